/**
 * edgerec's error hierarchy: every error the SDK rejects with is an `EdgerecError` whose `code` is stable
 * (messages are for people and may change). The codes, and what an app should do about each, are listed
 * in docs/sdk-integration.md. The worker boundary keeps class, code and detail fields (src/sdk/errors-transfer.ts).
 */

export const ERROR_CODES = [
  'BUNDLE_NOT_FOUND',
  'BUNDLE_INVALID',
  'BUNDLE_INTEGRITY',
  'NETWORK',
  'OFFLINE_NO_CACHE',
  'QUOTA_EXCEEDED',
  'STORAGE_UNAVAILABLE',
  'STORAGE_BLOCKED',
  'DEVICE_LOST',
  'DEVICE_UNAVAILABLE',
  'INVALID_OPTIONS',
  'INVALID_REQUEST',
  'UNAUTHORIZED',
  'SERVER_ERROR',
  'ABORTED',
  'TIMEOUT',
  'NOT_READY',
  'DISPOSED',
  'WORKER_FAILED',
  'LEADER_LOST',
  'INTERNAL',
] as const;

/** A stable, documented reason for a failure: branch on this, not on the message. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Options of an EdgerecError: the standard `cause`, and detail fields. */
export interface EdgerecErrorOptions extends ErrorOptions {
  /** Machine-readable facts about this failure (a file, a status, a size), kept across the worker. */
  details?: Record<string, unknown>;
}

/** The base of every error edgerec throws on purpose. */
export class EdgerecError extends Error {
  /** Why it failed, stable across releases (one of `ERROR_CODES`): branch on this, not on `message`. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: EdgerecErrorOptions) {
    super(message, options);
    this.name = 'EdgerecError';
    this.code = code;
    if (options?.details) Object.assign(this, options.details);
  }
}

/** Whether `error` is an edgerec error, and (with `code`) one of that code. */
export function isEdgerecError(error: unknown, code?: ErrorCode): error is EdgerecError {
  return error instanceof EdgerecError && (code === undefined || error.code === code);
}

/**
 * The code of a bundle download that failed with HTTP `status` (undefined: no answer at all). 404 and 410
 * say the bundle is not there; 401 and 403 that the caller may not read it; anything else is the server's.
 */
export function bundleHttpCode(status: number | undefined): ErrorCode {
  if (status === undefined) return 'NETWORK';
  if (status === 404 || status === 410) return 'BUNDLE_NOT_FOUND';
  if (status === 401 || status === 403) return 'UNAUTHORIZED';
  return 'SERVER_ERROR';
}

/** Bad input from a caller (a file, an option, a request): reported as such, never as a crash. */
export class InputError extends EdgerecError {
  constructor(message: string, code: ErrorCode = 'INVALID_REQUEST', options?: EdgerecErrorOptions) {
    super(code, message, options);
    this.name = 'InputError';
  }
}

/** An option of `createRecommender` is missing or out of range. */
export class InvalidOptionsError extends InputError {
  constructor(message: string) {
    super(message, 'INVALID_OPTIONS');
    this.name = 'InvalidOptionsError';
  }
}

/** An argument of a call (`recommend`, `record`, …) is out of range. */
export class InvalidRequestError extends InputError {
  constructor(message: string) {
    super(message, 'INVALID_REQUEST');
    this.name = 'InvalidRequestError';
  }
}

/** The caller's `AbortSignal` fired. `reason` is the signal's reason, when it was not the default. */
export class AbortedError extends EdgerecError {
  constructor(message: string, options?: EdgerecErrorOptions) {
    super('ABORTED', message, options);
    this.name = 'AbortedError';
  }
}

/** A `timeoutMs` ran out before the work finished; the work was abandoned as if aborted. */
export class TimeoutError extends EdgerecError {
  constructor(
    message: string,
    /** The limit that ran out, in milliseconds (the `timeoutMs` option given). */
    readonly timeoutMs: number,
  ) {
    super('TIMEOUT', message);
    this.name = 'TimeoutError';
  }
}

/**
 * IndexedDB could not open or upgrade the database within the wait allowed, because another connection
 * (another tab of this origin on an older version) does not close. `cause` says which wait ran out.
 */
export class StorageBlockedError extends EdgerecError {
  constructor(
    message: string,
    /** The IndexedDB database that stayed blocked (`databaseName` option, default `edgerec`). */
    readonly databaseName: string,
    /** How long the open or upgrade waited for the other connection to close, in milliseconds. */
    readonly waitedMs: number,
  ) {
    super('STORAGE_BLOCKED', message);
    this.name = 'StorageBlockedError';
  }
}
