import { slabCopyI32, slabF32, slabI32, slabU8 } from '../typed-slab.ts';

/**
 * Maximal marginal relevance (Carbonell & Goldstein 1998): picks k of the candidates greedily, each time
 * the one maximising λ·relevance − (1 − λ)·(highest cosine to what is already picked). λ = 1 is the
 * plain ranking; lower λ trades relevance for variety. Relevance is min-max scaled to [0, 1] first so λ
 * means the same whatever the utility's scale. Ties go to the earlier candidate.
 */
export function mmrSelect(
  relevance: ArrayLike<number>,
  embeddings: Float32Array,
  dim: number,
  k: number,
  lambda: number,
): Int32Array {
  const n = relevance.length;
  const take = Math.min(k, n);
  if (lambda >= 1 || take === 0) {
    return slabCopyI32(
      Array.from({ length: n }, (_, i) => i)
        .sort((a, b) => relevance[b] - relevance[a] || a - b)
        .slice(0, take),
    );
  }
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, relevance[i]);
    hi = Math.max(hi, relevance[i]);
  }
  const span = hi - lo || 1;
  const norms = slabF32(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += embeddings[i * dim + d] ** 2;
    norms[i] = Math.sqrt(s) || 1;
  }
  const maxSim = slabF32(n).fill(Number.NEGATIVE_INFINITY);
  const picked = slabU8(n);
  const out = slabI32(take);
  for (let step = 0; step < take; step++) {
    let best = -1;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      if (picked[i]) continue;
      const redundancy = step === 0 ? 0 : maxSim[i];
      const value = lambda * ((relevance[i] - lo) / span) - (1 - lambda) * redundancy;
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    }
    out[step] = best;
    picked[best] = 1;
    for (let i = 0; i < n; i++) {
      if (picked[i]) continue;
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += embeddings[i * dim + d] * embeddings[best * dim + d];
      maxSim[i] = Math.max(maxSim[i], dot / (norms[i] * norms[best]));
    }
  }
  return out;
}
