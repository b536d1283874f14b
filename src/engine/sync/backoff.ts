/** Retry delays: exponential backoff with full jitter, and the server's `Retry-After` when it gives one. */

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 60_000;
/** A `Retry-After` further out than this is taken as this: a server bug must not park a device for days. */
export const RETRY_AFTER_MAX_MS = 3600_000;

/**
 * Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a delay uniform in
 * [0, min(cap, base · 2^attempt)), so devices that failed together do not retry together. `attempt` is 0
 * for the first retry.
 */
export function fullJitter(
  attempt: number,
  random: () => number,
  base = BACKOFF_BASE_MS,
  cap = BACKOFF_CAP_MS,
): number {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
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

/** The delay before retry number `attempt`: the jittered backoff, but never sooner than `Retry-After`. */
export function retryDelay(attempt: number, random: () => number, retryAfterMs?: number): number {
  const jittered = fullJitter(attempt, random);
  return retryAfterMs === undefined ? jittered : Math.max(jittered, retryAfterMs);
}
