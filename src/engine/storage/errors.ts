/** Typed errors of the engine's IndexedDB storage. */
import { BundleSourceError, IntegrityError } from '../../core/bundle/index.ts';
import { EdgerecError } from '../../core/errors.ts';

/**
 * The browser refused a write because the origin's storage quota is used up. Never swallowed: the caller
 * decides whether to prune old versions, drop the event log or run without a cache.
 */
export class QuotaExceededStorageError extends EdgerecError {
  constructor(
    /** What was being stored, e.g. `file items-f16.9bc54d9e5347.bin` or `event e-123`. */
    readonly what: string,
    /** Approximate size of that write in bytes. */
    readonly bytes: number,
    options?: ErrorOptions,
  ) {
    super('QUOTA_EXCEEDED', `storage quota exceeded while storing ${what} (${bytes} bytes)`, options);
    this.name = 'QuotaExceededStorageError';
  }
}

/** IndexedDB cannot be used at all (disabled, a private mode that refuses it, a failed open). */
export class StorageUnavailableError extends EdgerecError {
  constructor(message: string, options?: ErrorOptions) {
    super('STORAGE_UNAVAILABLE', message, options);
    this.name = 'StorageUnavailableError';
  }
}

/** The connection is closed: by `close()`, by a newer schema version in another tab, or by the browser. */
export class StorageClosedError extends EdgerecError {
  constructor(readonly reason: string) {
    super('STORAGE_UNAVAILABLE', `engine storage is closed (${reason})`);
    this.name = 'StorageClosedError';
  }
}

/** A version cannot become current: its manifest or some of its files are not stored and verified. */
export class IncompleteVersionError extends EdgerecError {
  constructor(
    readonly version: string,
    /** Files (manifest paths, or `manifest.json`) that are missing or failed verification. */
    readonly missing: readonly string[],
  ) {
    const shown =
      missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
    super('BUNDLE_INTEGRITY', `bundle ${version} is not completely stored: ${shown}`);
    this.name = 'IncompleteVersionError';
  }
}

/** A bundle file is neither cached nor fetchable (no network source was given). */
export class NotCachedError extends BundleSourceError {
  constructor(file: string, version: string) {
    super(
      `${file} of bundle ${version} is not in the IndexedDB cache and there is no network source`,
      file,
      undefined,
      undefined,
      'OFFLINE_NO_CACHE',
    );
    this.name = 'NotCachedError';
  }
}

/**
 * A cached file failed verification (it was deleted) and could not be fetched again. Still an
 * IntegrityError, so callers that handle those handle this; `refetchError` says why the refetch failed.
 */
export class CachedFileIntegrityError extends IntegrityError {
  constructor(
    original: IntegrityError,
    readonly refetchError: unknown,
  ) {
    super(original.file, original.check, original.expected, original.actual);
    this.name = 'CachedFileIntegrityError';
    const reason = refetchError instanceof Error ? refetchError.message : String(refetchError);
    this.message = `${this.message}; the cached copy was deleted and could not be fetched again: ${reason}`;
    this.cause = refetchError;
  }
}

/** Whether an IndexedDB failure is the browser's quota refusal (a DOMException, or Chromium's subclass). */
export function isQuotaError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'QuotaExceededError'
  );
}
