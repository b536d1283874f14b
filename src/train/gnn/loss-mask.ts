/**
 * The in-batch mask of the max-margin loss: mask[i·C + j] = 1 where candidate j is a negative of query i,
 * i.e. neither the query's item nor its partner's. With the batch's shared uniform negatives C is
 * 2·batch + sharedNegatives (1,536 at the defaults), so the mask has ~800k entries per step.
 */
export interface LossMask {
  mask: Float32Array;
  /** Entries set to 1 (the number of (query, negative) pairs the loss averages over). */
  pairs: number;
}

/**
 * Starts from all ones and clears only the entries whose candidate equals the query or the partner, found
 * through an index of the candidates by item: O(Q + C) lookups instead of a comparison per entry. Exactly the
 * mask of `inBatchMaskScan`, which it replaces on the training path.
 */
export function inBatchMask(queries: Int32Array, partners: Int32Array, candidates: Int32Array): LossMask {
  const Q = queries.length;
  const C = candidates.length;
  const mask = new Float32Array(Q * C).fill(1);
  const columns = new Map<number, number[]>();
  for (let j = 0; j < C; j++) {
    const list = columns.get(candidates[j]);
    if (list) list.push(j);
    else columns.set(candidates[j], [j]);
  }
  let cleared = 0;
  for (let i = 0; i < Q; i++) {
    const base = i * C;
    for (const item of [queries[i], partners[i]]) {
      for (const j of columns.get(item) ?? []) {
        if (mask[base + j] === 0) continue;
        mask[base + j] = 0;
        cleared++;
      }
    }
  }
  return { mask, pairs: Q * C - cleared };
}

/** The reference: one comparison per (query, candidate) entry. Kept for the equality test and bench:train. */
export function inBatchMaskScan(queries: Int32Array, partners: Int32Array, candidates: Int32Array): LossMask {
  const Q = queries.length;
  const C = candidates.length;
  const mask = new Float32Array(Q * C);
  let pairs = 0;
  for (let i = 0; i < Q; i++) {
    const query = queries[i];
    const partner = partners[i];
    for (let j = 0; j < C; j++) {
      const n = candidates[j];
      if (n !== query && n !== partner) {
        mask[i * C + j] = 1;
        pairs++;
      }
    }
  }
  return { mask, pairs };
}
