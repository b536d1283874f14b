/** Retry delays: exponential backoff with full jitter, and the server's `Retry-After` when it gives one. */

export { parseRetryAfter, RETRY_AFTER_MAX_MS } from '../../core/contract/http.ts';

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 60_000;

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

/** The delay before retry number `attempt`: the jittered backoff, but never sooner than `Retry-After`. */
export function retryDelay(attempt: number, random: () => number, retryAfterMs?: number): number {
  const jittered = fullJitter(attempt, random);
  return retryAfterMs === undefined ? jittered : Math.max(jittered, retryAfterMs);
}
