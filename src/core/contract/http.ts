/**
 * The sync server's HTTP API as both sides of the worker call it: the engine's sync client, and the SDK's
 * session calls on the page. Web-platform globals only (fetch, AbortController, URL), present in Node too.
 */
import { EdgerecError } from '../errors.ts';

/** A `Retry-After` further out than this is taken as this: a server bug must not park a device for days. */
export const RETRY_AFTER_MAX_MS = 3600_000;

/** The server could not be reached (no network, DNS, refused connection, CORS failure, aborted). */
export class SyncNetworkError extends EdgerecError {
  constructor(message: string, options?: ErrorOptions) {
    super('NETWORK', message, options);
    this.name = 'SyncNetworkError';
  }
}

/** The server answered with a non-2xx status; `message` is the server's own (`{statusCode, error, message}`). */
export class SyncHttpError extends EdgerecError {
  constructor(
    /** The HTTP status the server answered with (4xx or 5xx). */
    readonly status: number,
    /** The server's message alone (the error's message adds the method and path). */
    readonly serverMessage: string,
    /** The parsed JSON body, when there was one (a 409 carries `current`). */
    readonly body: unknown,
    /** The server's `Retry-After`, in ms from when the answer came. */
    readonly retryAfterMs: number | undefined,
    method: string,
    path: string,
  ) {
    super(
      status === 401 || status === 403 ? 'UNAUTHORIZED' : 'SERVER_ERROR',
      `${method} ${path}: ${status} ${serverMessage}`,
    );
    this.name = 'SyncHttpError';
  }
}

/** Statuses worth retrying later: the server is overloaded, restarting or asks us to slow down. */
export function isRetriableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The root a `serverUrl` names, resolved against the page (a relative one is the page's own origin). */
export function serverRoot(serverUrl: string): URL {
  let url: URL;
  try {
    url = new URL(serverUrl, globalThis.location?.href);
  } catch {
    throw new TypeError(`serverUrl: ${JSON.stringify(serverUrl)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`serverUrl: ${serverUrl} is not an http(s) URL`);
  return url;
}

/** The bundle registry of a sync server: the engine's `bundleUrl` when only `serverUrl` is given. */
export function registryUrl(serverUrl: string): string {
  return new URL('/v1/bundles/', serverRoot(serverUrl)).href;
}

export interface SyncHttpOptions {
  serverUrl: string;
  /** The bearer token, read on every request (it can be replaced while the client runs). */
  token?: () => string | undefined;
  fetch?: typeof fetch;
  now?: () => number;
  /** A request (answer body included) that takes longer is abandoned as a network failure (default 30 s). */
  timeoutMs?: number;
}

/** A tiny JSON client of the sync server's API: one call, one answer or one typed error. */
export class SyncHttp {
  private readonly root: URL;
  private readonly token: () => string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly timeoutMs: number;

  constructor(options: SyncHttpOptions) {
    this.root = serverRoot(options.serverUrl);
    this.token = options.token ?? (() => undefined);
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** `path` is absolute (`/v1/...`). Resolves with the JSON body of a 2xx; throws SyncNetworkError or SyncHttpError. */
  async request<T>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    const url = new URL(path, this.root).href;
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.token();
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    // One signal for the whole exchange, answer body included: the caller's abort, or the timeout.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => controller.abort(new Error(`no answer in ${this.timeoutMs / 1000} s`)),
      this.timeoutMs,
    );
    let response: Response;
    let text: string;
    try {
      try {
        response = await this.fetchImpl(url, {
          method,
          headers,
          body: payload,
          cache: 'no-store',
          signal: controller.signal,
        });
      } catch (error) {
        throw new SyncNetworkError(`${method} ${url}: ${describe(error, controller.signal)}`, {
          cause: error,
        });
      }
      try {
        text = await response.text();
      } catch (error) {
        throw new SyncNetworkError(
          `${method} ${url}: the answer broke off (${describe(error, controller.signal)})`,
          { cause: error },
        );
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok) return json as T;
    const message =
      typeof (json as { message?: unknown })?.message === 'string'
        ? (json as { message: string }).message
        : response.statusText || 'no message';
    throw new SyncHttpError(
      response.status,
      message,
      json,
      parseRetryAfter(response.headers.get('retry-after'), this.now()),
      method,
      path,
    );
  }
}

function describe(error: unknown, signal: AbortSignal): string {
  if (signal.aborted && signal.reason instanceof Error) return signal.reason.message;
  return (error as Error)?.message ?? String(error);
}

/**
 * A `Retry-After` header in ms from `now`: delta-seconds or an HTTP date; undefined when absent or
 * unreadable. Clamped to [0, RETRY_AFTER_MAX_MS].
 */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (header == null) return undefined;
  const text = header.trim();
  if (text === '') return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(0, Math.round(ms)));
}
