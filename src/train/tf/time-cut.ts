/** Where an explicit wall-clock cap stopped a training loop: after which epoch, and how many seconds in. */
export interface TimeCut {
  afterEpoch: number;
  seconds: number;
}

/**
 * The cut an explicit `--time-budget` makes after `epoch`, or undefined to go on. Without a budget (the
 * default) training length comes from epochs and early stopping only, so results never depend on the clock;
 * the last epoch is never reported as cut.
 */
export function timeCutAfter(
  epoch: number,
  maxEpochs: number,
  startedMs: number,
  budgetSeconds: number | undefined,
): TimeCut | undefined {
  if (budgetSeconds === undefined || epoch + 1 >= maxEpochs) return undefined;
  const seconds = (performance.now() - startedMs) / 1000;
  return seconds > budgetSeconds ? { afterEpoch: epoch, seconds } : undefined;
}
