import { userItemsOf } from '../interactions.ts';
import { Random } from '../random.ts';
import { topK } from '../topk.ts';
import { type EvalResult, historyFor, type Stage } from './harness.ts';
import { fullRankStatistics, hitRateAt, MetricAccumulator, ndcgAt } from './metrics.ts';
import type { EvalSplit } from './split.ts';

/** A model that scores every item's similarity to a query item (related pins). */
export interface ItemSimilarity {
  readonly name: string;
  itemScores(item: number, out: Float32Array): void;
  /** Optional batched form of `itemScores` (one pass over an embedding table for several queries). */
  itemScoresMany?(items: Int32Array, outs: Float32Array[]): void;
}

/** Queries scored per itemScoresMany call. */
const QUERY_CHUNK = 32;

export function isItemSimilarity(model: object): model is ItemSimilarity {
  return typeof (model as Partial<ItemSimilarity>).itemScores === 'function';
}

export interface ItemToItemOptions {
  ks?: number[];
  sampleUsers?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Item-to-item retrieval on held-out co-engagements: for each user with a target at this stage, the query
 * is the last item they engaged with before it and the target is the held-out item; every other item is a
 * candidate. HR@K, NDCG@K and MRR (ties by index, as topK), plus coverage of the top 10.
 */
export function evaluateItemToItem(
  model: ItemSimilarity,
  split: EvalSplit,
  stage: Stage,
  options: ItemToItemOptions = {},
): EvalResult {
  const history = historyFor(split, stage);
  const targets = stage === 'valid' ? split.valid : split.test;
  const pairs: [number, number][] = [];
  for (let u = 0; u < split.numUsers; u++) {
    const seen = userItemsOf(history, u);
    const target = userItemsOf(targets, u);
    if (seen.length === 0 || target.length === 0 || seen[seen.length - 1] === target[0]) continue;
    pairs.push([seen[seen.length - 1], target[0]]);
  }
  if (options.sampleUsers !== undefined && options.sampleUsers < pairs.length) {
    new Random((options.seed ?? 0) ^ 0x5eed).shuffle(pairs);
    pairs.length = options.sampleUsers;
  }
  const ks = [...new Set([...(options.ks ?? [10, 20, 50]), 10])].sort((a, b) => a - b);
  const chunk = model.itemScoresMany ? QUERY_CHUNK : 1;
  const buffers = Array.from(
    { length: Math.min(chunk, pairs.length) },
    () => new Float32Array(split.numItems),
  );
  const accumulator = new MetricAccumulator();
  const covered = new Set<number>();
  for (let start = 0; start < pairs.length; start += chunk) {
    const batch = pairs.slice(start, start + chunk);
    const outs = buffers.slice(0, batch.length);
    if (model.itemScoresMany)
      model.itemScoresMany(
        Int32Array.from(batch, ([query]) => query),
        outs,
      );
    else model.itemScores(batch[0][0], outs[0]);
    batch.forEach(([query, target], i) => {
      const n = start + i;
      const scores = outs[i];
      scores[query] = Number.NEGATIVE_INFINITY;
      const positives = new Set([target]);
      const ranked = topK(scores, ks[ks.length - 1]);
      const values: Record<string, number> = {};
      for (const k of ks) {
        values[`HR@${k}`] = hitRateAt(ranked, positives, k);
        values[`NDCG@${k}`] = ndcgAt(ranked, positives, k);
      }
      values.MRR = fullRankStatistics(scores, positives).reciprocalRank;
      accumulator.add(values);
      for (let r = 0; r < Math.min(10, ranked.length); r++) covered.add(ranked[r]);
      if ((n & 0xff) === 0) options.onProgress?.(n, pairs.length);
    });
  }
  options.onProgress?.(pairs.length, pairs.length);
  return {
    protocol: 'item2item',
    stage,
    users: accumulator.users,
    metrics: { ...accumulator.means(), 'Coverage@10': covered.size / split.numItems },
  };
}
