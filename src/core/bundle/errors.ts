/**
 * The bundle's error classes, in a file of their own: the SDK page imports them (to rebuild errors that
 * cross the worker) without the validators and the loader.
 */
import { bundleHttpCode, EdgerecError, type ErrorCode, InputError } from '../errors.ts';

/** A malformed `manifest.json` or `catalog.json`; `problems` holds every problem found, path first. */
export class ManifestError extends InputError {
  constructor(
    /** The file found malformed: its URL or path as the loader read it. */
    readonly file: string,
    /** Every problem found, each as `path: what is wrong` (the message shows the first five). */
    readonly problems: string[],
  ) {
    super(`${file}: ${summarize(problems)}`, 'BUNDLE_INVALID');
    this.name = 'ManifestError';
  }
}

const SHOWN_PROBLEMS = 5;

function summarize(problems: string[]): string {
  const shown = problems.slice(0, SHOWN_PROBLEMS).join('; ');
  const more = problems.length - SHOWN_PROBLEMS;
  return more > 0 ? `${shown} (and ${more} more problem${more === 1 ? '' : 's'})` : shown;
}

/** A bundle file that could not be read at all (as opposed to read and found wrong). */
export class BundleSourceError extends EdgerecError {
  constructor(
    message: string,
    /** The URL (or path) that could not be read. */
    readonly location: string,
    /** The HTTP status, when a server answered. */
    readonly status?: number,
    options?: ErrorOptions,
    code: ErrorCode = bundleHttpCode(status),
  ) {
    super(code, message, options);
    this.name = 'BundleSourceError';
  }
}

/** A variant asked of a bundle that does not have it. */
export class VariantNotFoundError extends InputError {
  constructor(message: string) {
    super(message, 'BUNDLE_INVALID');
    this.name = 'VariantNotFoundError';
  }
}
