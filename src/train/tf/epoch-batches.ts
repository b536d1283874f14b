import { derivedRandom } from '../../core/random.ts';

/**
 * One epoch's minibatches of `n` examples: a permutation drawn from (seed, epoch) — the same on every run
 * and on a resume — cut into runs of `batchSize` (the last one shorter).
 */
export function epochBatches(n: number, batchSize: number, seed: number, epoch: number): Int32Array[] {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  derivedRandom(seed, epoch).shuffle(order);
  const batches: Int32Array[] = [];
  for (let start = 0; start < n; start += batchSize) batches.push(order.subarray(start, start + batchSize));
  return batches;
}
