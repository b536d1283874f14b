/**
 * Relays progress reports across a worker boundary so that a method's result never overtakes them.
 *
 * A progress callback proxied through comlink delivers each report on its own message port, not the one
 * the method's result returns on, so the result can arrive before the last reports (a clean-clone CI run
 * saw 421 of 425). `relayProgress` hands `run` a `report` that forwards to `onProgress` and remembers the
 * delivery of the newest report; once `run` settles it waits for that delivery (earlier reports went
 * first on the same port), so the caller has seen every report when the result or the error arrives. An
 * error that overtook its reports let a late one overwrite the page's "failed: …" (a clean-clone CI run
 * of the lab's e2e test read "loading the pack…" after the replay had failed).
 *
 * A callback that throws or whose delivery rejects (the page's handler failed) is ignored: a listener's
 * failure is not the work's failure.
 */
export async function relayProgress<P, R>(
  onProgress: ((p: P) => unknown) | undefined,
  run: (report: (p: P) => void) => Promise<R>,
): Promise<R> {
  let lastDelivery: Promise<unknown> = Promise.resolve();
  try {
    return await run((p) => {
      if (!onProgress) return;
      try {
        lastDelivery = Promise.resolve(onProgress(p)).catch(() => undefined);
      } catch {}
    });
  } finally {
    await lastDelivery;
  }
}
