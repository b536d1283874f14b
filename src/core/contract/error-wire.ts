/**
 * How an error crosses the worker boundary (both sides import this): class name, stable code, message,
 * stack, the class's own detail fields and the cause. Structured clone alone keeps only message and name.
 */

import { BundleSourceError, ManifestError, VariantNotFoundError } from '../bundle/errors.ts';
import { IntegrityError } from '../bundle/integrity.ts';
import {
  AbortedError,
  EdgerecError,
  ERROR_CODES,
  type ErrorCode,
  InputError,
  InvalidOptionsError,
  InvalidRequestError,
  StorageBlockedError,
  TimeoutError,
} from '../errors.ts';
import { EventValidationError } from '../event-errors.ts';
import { SyncHttpError, SyncNetworkError } from './http.ts';

export interface WireError {
  name: string;
  code: ErrorCode;
  message: string;
  stack?: string;
  /** The error's own fields (a file, a status, a size), those that survive a structured clone. */
  details: Record<string, unknown>;
  cause?: WireError;
}

/**
 * Classes both sides know: an error of one of these arrives as an instance of it. Any other edgerec error
 * (the engine's own, e.g. QuotaExceededStorageError) arrives as an EdgerecError with its name and code.
 */
// Keyed by the names the constructors set: a minifier may rename the classes themselves.
const KNOWN: Record<string, unknown> = {
  EdgerecError,
  InputError,
  InvalidOptionsError,
  InvalidRequestError,
  AbortedError,
  TimeoutError,
  StorageBlockedError,
  IntegrityError,
  ManifestError,
  BundleSourceError,
  VariantNotFoundError,
  EventValidationError,
  SyncHttpError,
  SyncNetworkError,
};

const OWN = new Set(['name', 'message', 'stack', 'code', 'cause']);
const MAX_CAUSES = 4;

/** The code of an error that is not an edgerec one: the platform's own names, else INTERNAL. */
function foreignCode(error: { name?: unknown }): ErrorCode {
  if (error.name === 'AbortError') return 'ABORTED';
  if (error.name === 'TimeoutError') return 'TIMEOUT';
  if (error.name === 'QuotaExceededError') return 'QUOTA_EXCEEDED';
  return 'INTERNAL';
}

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

export function toWireError(error: unknown, depth = 0): WireError {
  if (!(error instanceof Error))
    return { name: 'Error', code: 'INTERNAL', message: String(error), details: {} };
  const details: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error))
    if (!OWN.has(key) && typeof value !== 'function' && cloneable(value)) details[key] = value;
  const code = error instanceof EdgerecError ? error.code : foreignCode(error);
  return {
    name: error.name,
    code,
    message: error.message,
    stack: error.stack,
    details,
    ...(error.cause !== undefined && depth < MAX_CAUSES
      ? { cause: toWireError(error.cause, depth + 1) }
      : {}),
  };
}

/** The error `wire` describes, as an instance of its own class when both sides know it. */
export function fromWireError(wire: WireError): EdgerecError {
  const known = Object.hasOwn(KNOWN, wire.name) ? (KNOWN[wire.name] as typeof EdgerecError) : undefined;
  const code = (ERROR_CODES as readonly string[]).includes(wire.code) ? wire.code : 'INTERNAL';
  // Reflect.construct makes a real Error (stack, console display) of the class without running its
  // constructor, whose parameters differ from class to class.
  const error = Reflect.construct(Error, [wire.message], known ?? EdgerecError) as EdgerecError;
  const define = (key: string, value: unknown) =>
    Object.defineProperty(error, key, { value, writable: true, configurable: true, enumerable: false });
  define('name', wire.name);
  define('code', code);
  if (wire.stack !== undefined) define('stack', wire.stack);
  if (wire.cause) define('cause', fromWireError(wire.cause));
  Object.assign(error, wire.details);
  return error;
}
