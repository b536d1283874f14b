/**
 * Sampled-softmax negatives and their logQ correction (Yi et al., RecSys 2019). The negatives of a batch
 * are its own targets (in-batch: drawn in proportion to how often items are targets) plus uniform random
 * items. Subtracting log q(item) from every logit, q being the probability the mixture proposes the item,
 * removes the popularity bias in-batch sampling would otherwise teach the model.
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
 * log q(item) for a batch with `inBatch` frequency-sampled and `uniform` uniformly sampled negatives over
 * `numItems` items: q = (inBatch·p(item) + uniform/numItems) / (inBatch + uniform).
 */
export function logQ(frequency: number, inBatch: number, uniform: number, numItems: number): number {
  const total = inBatch + uniform;
  if (total === 0) return 0;
  return Math.log((inBatch * frequency + uniform / numItems) / total);
}
