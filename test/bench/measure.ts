import { percentile } from '../../src/core/lab/metrics.ts';

export interface Timing {
  p50_ms: number;
  p99_ms: number;
  runs: number;
}

/** Runs `fn` after warm-up until `minRuns` and `minMs` are both reached; returns p50 and p99. */
export function measure(fn: () => void, { warmup = 3, minRuns = 10, minMs = 500 } = {}): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minRuns || performance.now() - start < minMs) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
    if (samples.length >= 10_000) break;
  }
  samples.sort((a, b) => a - b);
  return {
    p50_ms: round(percentile(samples, 0.5)),
    p99_ms: round(percentile(samples, 0.99)),
    runs: samples.length,
  };
}

export async function timeOnce<T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: round(performance.now() - t) };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
