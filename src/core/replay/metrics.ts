import { RANKER_HEADS, type RankerHead } from '../bundle/index.ts';
import { ndcgAt, recallAt } from '../eval/metrics.ts';
import { ACTION_CODE } from '../events.ts';

/** The replay's columns, in report order. */
export const REPLAY_METRICS = ['Recall@20', 'NDCG@20', 'UtilityNDCG@10', 'HideRate@10'] as const;
export type ReplayMetric = (typeof REPLAY_METRICS)[number];

/** What the user did in the session after a feed request, on items the feed was allowed to show. */
export interface SessionTruth {
  /** Items clicked, closed up or saved. */
  engaged: ReadonlySet<number>;
  /** Items hidden. */
  hidden: ReadonlySet<number>;
  /** Each item acted on → the action codes taken on it (each counts once). */
  actions: ReadonlyMap<number, ReadonlySet<number>>;
}

/** Σ w_a over the distinct actions taken on an item: the realised utility the manifest's weights define. */
export function realisedGain(
  actions: ReadonlySet<number> | undefined,
  weights: Record<RankerHead, number>,
): number {
  if (!actions) return 0;
  let u = 0;
  for (const head of RANKER_HEADS) if (actions.has(ACTION_CODE[head])) u += weights[head];
  return u;
}

/**
 * Utility NDCG@k of a slate: gains max(0, realised utility) as 2^g − 1, discounted by log2(rank + 1), over
 * the ideal order of every item the user acted on in the session. NaN when no item has a positive gain.
 */
export function utilityNdcgAt(
  slate: ArrayLike<number>,
  truth: SessionTruth,
  weights: Record<RankerHead, number>,
  k: number,
): number {
  const gain = (item: number) => 2 ** Math.max(0, realisedGain(truth.actions.get(item), weights)) - 1;
  const ideal = [...truth.actions.keys()].map(gain).sort((a, b) => b - a);
  let dcg = 0;
  let idcg = 0;
  for (let r = 0; r < k; r++) {
    const discount = 1 / Math.log2(r + 2);
    if (r < slate.length) dcg += gain(slate[r]) * discount;
    if (r < ideal.length) idcg += ideal[r] * discount;
  }
  return idcg > 0 ? dcg / idcg : Number.NaN;
}

/**
 * The four replay metrics of one request's slate (best first). Recall@20 and NDCG@20 (binary, LightGCN's
 * ideal) are NaN without engaged items, utility NDCG@10 without a positive gain; the hide rate is the
 * share of the first 10 slots the user hid, over 10 (a short slate's empty slots count as not hidden).
 */
export function slateMetrics(
  slate: ArrayLike<number>,
  truth: SessionTruth,
  weights: Record<RankerHead, number>,
): Record<ReplayMetric, number> {
  const engaged = truth.engaged.size > 0;
  let hides = 0;
  for (let r = 0; r < Math.min(10, slate.length); r++) if (truth.hidden.has(slate[r])) hides++;
  return {
    'Recall@20': engaged ? recallAt(slate, truth.engaged, 20) : Number.NaN,
    'NDCG@20': engaged ? ndcgAt(slate, truth.engaged, 20) : Number.NaN,
    'UtilityNDCG@10': utilityNdcgAt(slate, truth, weights, 10),
    'HideRate@10': hides / 10,
  };
}

/**
 * Means over users of each user's mean over their requests, each metric over the requests where it is
 * defined (not NaN), so a heavy user weighs as much as a light one.
 */
export class UserMeans {
  private readonly perUser = new Map<number, { sums: number[]; counts: number[] }>();

  add(user: number, values: Record<ReplayMetric, number>): void {
    let entry = this.perUser.get(user);
    if (!entry) {
      entry = { sums: REPLAY_METRICS.map(() => 0), counts: REPLAY_METRICS.map(() => 0) };
      this.perUser.set(user, entry);
    }
    REPLAY_METRICS.forEach((name, m) => {
      const v = values[name];
      if (Number.isNaN(v)) return;
      entry.sums[m] += v;
      entry.counts[m]++;
    });
  }

  /** Users with at least one request where Recall@20 is defined. */
  get users(): number {
    let n = 0;
    for (const e of this.perUser.values()) if (e.counts[0] > 0) n++;
    return n;
  }

  means(): Record<ReplayMetric, number> {
    const out = {} as Record<ReplayMetric, number>;
    REPLAY_METRICS.forEach((name, m) => {
      let sum = 0;
      let n = 0;
      for (const e of this.perUser.values()) {
        if (e.counts[m] === 0) continue;
        sum += e.sums[m] / e.counts[m];
        n++;
      }
      out[name] = n > 0 ? sum / n : Number.NaN;
    });
    return out;
  }
}
