/** Periods (in hours) of the sin/cos time features: a day and a week, as in PinnerFormer. */
export const TIME_PERIODS_HOURS = [24, 24 * 7];
/** log gap to the previous action, then sin and cos per period. */
export const TIME_FEATURES = 1 + 2 * TIME_PERIODS_HOURS.length;
/** Action codes the encoders read (impression, click, closeup, save, hide), one-hot or embedded. */
export const ACTION_TYPES = 5;

const HOUR = 3_600_000;

/**
 * PinnerFormer's time features of each token, written into `out` at `offset` (TIME_FEATURES per token):
 * log hours since the previous action, then sin/cos of the action's absolute time for each period.
 * Causal: a token's features read only its own time and the one before it, never a later action's, so
 * dense training (every position predicts its future) cannot peek at when later actions happen, and a
 * position encodes the same whatever follows it. (A "time since the latest action" feature would tell
 * position t when the window ends.) The gap of the window's first token reads ts[start − 1] where the
 * arrays hold it, so a token's features do not depend on where the window starts either. Without
 * timestamps all are zero, and order alone (positions) carries time. The global model, the compact
 * encoder's distillation and the browser engine all call this one function.
 */
export function timeFeatures(
  ts: ArrayLike<number>,
  start: number,
  end: number,
  out: Float32Array,
  offset: number,
): void {
  for (let t = start; t < end; t++) {
    const base = offset + (t - start) * TIME_FEATURES;
    if (Number.isNaN(ts[t])) {
      out.fill(0, base, base + TIME_FEATURES);
      continue;
    }
    out[base] = t > 0 && !Number.isNaN(ts[t - 1]) ? Math.log1p(Math.max(0, ts[t] - ts[t - 1]) / HOUR) : 0;
    const hours = ts[t] / HOUR;
    TIME_PERIODS_HOURS.forEach((period, p) => {
      const angle = (2 * Math.PI * (hours % period)) / period;
      out[base + 1 + 2 * p] = Math.sin(angle);
      out[base + 2 + 2 * p] = Math.cos(angle);
    });
  }
}
