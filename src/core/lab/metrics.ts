/**
 * The lab's metrics, one implementation for the Node CLI and the browser worker: retrieval metrics of one
 * user's exact top-k against their window's items, the ranker's AUC per head and utility NDCG@10 per
 * session (the definitions of the bundle's build-time metrics, `src/train/bundle/metrics.ts`), latency
 * percentiles and speed-ups.
 */
import { RANKER_HEADS, type RankerHead } from '../bundle/manifest.ts';
import { hitRateAt, MetricAccumulator, ndcgAt, recallAt } from '../eval/metrics.ts';
import { gradedNdcg, headAucs } from '../eval/ranking-metrics.ts';
import { DEFAULT_UTILITY_WEIGHTS, realisedUtility, utility } from '../ranking/utility.ts';

/** Cut-offs of the retrieval metrics; the scan must return at least the largest. */
export const RETRIEVAL_KS = [10, 20] as const;

/** HR@k, NDCG@k and Recall@k of one user (`ranked`: item indices best first). */
export function userRetrievalMetrics(
  ranked: ArrayLike<number>,
  positives: ReadonlySet<number>,
): Record<string, number> {
  const values: Record<string, number> = {};
  for (const k of RETRIEVAL_KS) {
    values[`HR@${k}`] = hitRateAt(ranked, positives, k);
    values[`NDCG@${k}`] = ndcgAt(ranked, positives, k);
    values[`Recall@${k}`] = recallAt(ranked, positives, k);
  }
  return values;
}

/** Means of the per-user retrieval metrics, in a fixed key order. */
export class RetrievalAccumulator {
  private readonly inner = new MetricAccumulator();

  add(ranked: ArrayLike<number>, positives: ReadonlySet<number>): void {
    if (positives.size > 0) this.inner.add(userRetrievalMetrics(ranked, positives));
  }

  get users(): number {
    return this.inner.users;
  }

  means(): Record<string, number> {
    const m = this.inner.means();
    const keys = ['HR@10', 'NDCG@10', 'Recall@10', 'Recall@20', 'NDCG@20'];
    return Object.fromEntries(keys.filter((k) => k in m).map((k) => [k, m[k]]));
  }
}

/**
 * AUC of each head (`AUC.click`, …) and utility NDCG@10 over sessions with at least two examples
 * (`session[n]`: the session of example n; sessions are averaged in order of first appearance).
 */
export function rankerMetricsOf(
  probs: Float32Array,
  labels: Uint8Array,
  session: ArrayLike<number>,
  weights: Readonly<Record<RankerHead, number>> = DEFAULT_UTILITY_WEIGHTS,
): Record<string, number> {
  const heads = RANKER_HEADS.length;
  const size = labels.length / heads;
  const metrics = headAucs(probs, labels);
  const bySession = new Map<number, number[]>();
  for (let n = 0; n < size; n++) {
    const list = bySession.get(session[n]);
    if (list) list.push(n);
    else bySession.set(session[n], [n]);
  }
  let sum = 0;
  let count = 0;
  for (const rows of bySession.values()) {
    if (rows.length < 2) continue;
    const predicted = rows.map((n) => utility(probs, n * heads, weights));
    const realised = rows.map((n) => realisedUtility(labels, n * heads, weights));
    const ndcg = gradedNdcg(predicted, realised, 10);
    if (!Number.isNaN(ndcg)) {
      sum += ndcg;
      count++;
    }
  }
  metrics['UtilityNDCG@10'] = count > 0 ? sum / count : Number.NaN;
  return metrics;
}

export interface LatencyStats {
  /** Milliseconds. */
  p50: number;
  p99: number;
  mean: number;
  samples: number;
}

/** Nearest-rank percentile (q in (0, 1]) of `sorted` ascending values. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

export function latencyStats(samples: ArrayLike<number>): LatencyStats {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const s of sorted) sum += s;
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    mean: sorted.length ? sum / sorted.length : Number.NaN,
    samples: sorted.length,
  };
}
