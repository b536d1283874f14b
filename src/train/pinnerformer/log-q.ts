import type { Random } from '../../core/random.ts';

/**
 * Sampled-softmax negatives and their logQ correction (Yi et al., RecSys 2019). A batch's negatives are a
 * set: the distinct items among `inBatch` of its own target slots (each slot a draw from the target
 * distribution p) together with the distinct items among `uniform` uniform draws. Subtracting log q(item)
 * from every logit, q being the probability that the item is in that set, removes the popularity bias
 * in-batch sampling would otherwise teach the model. Because the set is deduplicated, q is an inclusion
 * probability, 1 − (1 − p)^inBatch · (1 − 1/numItems)^uniform, not the expected count
 * inBatch·p + uniform/numItems, which over-corrects popular items (their count saturates at one).
 */
export function targetFrequencies(targetCounts: Float64Array): Float64Array {
  let total = 0;
  for (const c of targetCounts) total += c;
  const out = new Float64Array(targetCounts.length);
  // Add-one smoothing so items never seen as targets keep a finite correction.
  const denominator = total + targetCounts.length;
  for (let i = 0; i < out.length; i++) out[i] = (targetCounts[i] + 1) / denominator;
  return out;
}

/**
 * log P(item ∈ negative set) for a set built from `inBatch` draws with probability `frequency` each and
 * `uniform` draws over `numItems` items, all independent: log(1 − (1 − p)^inBatch · (1 − 1/N)^uniform).
 */
export function logQ(frequency: number, inBatch: number, uniform: number, numItems: number): number {
  if (inBatch + uniform === 0) return 0;
  const logMiss = inBatch * Math.log1p(-frequency) + uniform * Math.log1p(-1 / numItems);
  // log(1 − e^x) for x ≤ 0, accurate for tiny inclusion probabilities too.
  return logMiss > -Math.LN2 ? Math.log(-Math.expm1(logMiss)) : Math.log1p(-Math.exp(logMiss));
}

/** A batch's negatives as distinct items, with the draw counts the logQ correction needs. */
export interface NegativeSet {
  items: Int32Array;
  inBatchDraws: number;
  uniformDraws: number;
}

/**
 * Draws the negative set: `inBatch` target slots picked at random without replacement (each slot is an
 * independent draw from the target distribution, so any subset of them is too), then `uniform` uniform
 * items; duplicates are dropped, so every negative is one softmax column.
 */
export function sampleNegatives(
  targets: ArrayLike<number>,
  inBatch: number,
  uniform: number,
  numItems: number,
  random: Random,
): NegativeSet {
  const slots = Array.from({ length: targets.length }, (_, i) => i);
  random.shuffle(slots);
  const draws = Math.min(inBatch, slots.length);
  const chosen = new Set<number>();
  for (let k = 0; k < draws; k++) chosen.add(targets[slots[k]]);
  for (let k = 0; k < uniform; k++) chosen.add(random.int(numItems));
  return { items: Int32Array.from(chosen), inBatchDraws: draws, uniformDraws: uniform };
}
