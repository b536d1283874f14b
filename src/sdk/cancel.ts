import { AbortedError, EdgerecError, InvalidOptionsError, TimeoutError } from '../core/errors.ts';

/** The error a call rejects with once `signal` aborted: its TimeoutError, or an AbortedError. */
export function abortError(signal: AbortSignal, what: string): EdgerecError {
  const reason: unknown = signal.reason;
  if (reason instanceof EdgerecError) return reason;
  return new AbortedError(`${what} was aborted`, { cause: reason });
}

/** A promise that rejects when `signal` aborts (never, without one), and its listener's removal. */
export function rejectOnAbort(signal: AbortSignal | undefined, what: string) {
  let remove = () => {};
  const aborted = new Promise<never>((_, reject) => {
    if (!signal) return;
    const onAbort = () => reject(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    remove = () => signal.removeEventListener('abort', onAbort);
  });
  aborted.catch(() => {});
  return { aborted, remove };
}

/**
 * One signal for the caller's `signal` and a `timeoutMs`: it aborts with the caller's reason, or with a
 * TimeoutError when the time runs out first. `dispose` clears the timer.
 */
export function deadline(signal: AbortSignal | undefined, timeoutMs: number | undefined, what: string) {
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0))
    throw new InvalidOptionsError(`${what}: timeoutMs must be a positive number, got ${timeoutMs}`);
  const controller = new AbortController();
  const forward = () => controller.abort(signal!.reason);
  if (signal?.aborted) forward();
  else signal?.addEventListener('abort', forward, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(
          () => controller.abort(new TimeoutError(`${what} took longer than ${timeoutMs} ms`, timeoutMs)),
          timeoutMs,
        );
  return {
    signal: controller.signal,
    dispose() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    },
  };
}

/** `call`'s result, or an AbortedError as soon as `signal` aborts (the work itself runs to its end). */
export async function cancellable<T>(signal: AbortSignal | undefined, what: string, call: () => Promise<T>) {
  if (signal?.aborted) throw abortError(signal, what);
  const { aborted, remove } = rejectOnAbort(signal, what);
  try {
    return await Promise.race([call(), aborted]);
  } finally {
    remove();
  }
}
