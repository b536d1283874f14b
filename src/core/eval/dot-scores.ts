import type { ScoreRequest } from './model.ts';

/**
 * Dot-product scoring of many queries against the rows of one table, the inner loop of validation for every
 * embedding model (BPR, GNN, PinnerFormer). Each score is summed exactly as the scalar loop
 * `s = bias; for d ascending: s += q[d] · row[d]` sums it, so results are bit-identical to scoring one query
 * at a time; the speed comes from reading each table row once for four queries instead of once per query.
 */
export function dotScores(
  queries: Float32Array,
  dim: number,
  table: Float32Array,
  candidates: Int32Array,
  outs: Float32Array[],
  bias?: Float32Array,
): void {
  const n = outs.length;
  let r = 0;
  for (; r + 4 <= n; r += 4) {
    const q0 = r * dim;
    const q1 = q0 + dim;
    const q2 = q1 + dim;
    const q3 = q2 + dim;
    const o0 = outs[r];
    const o1 = outs[r + 1];
    const o2 = outs[r + 2];
    const o3 = outs[r + 3];
    for (let c = 0; c < candidates.length; c++) {
      const item = candidates[c];
      const row = item * dim;
      const b = bias ? bias[item] : 0;
      let s0 = b;
      let s1 = b;
      let s2 = b;
      let s3 = b;
      for (let d = 0; d < dim; d++) {
        const v = table[row + d];
        s0 += queries[q0 + d] * v;
        s1 += queries[q1 + d] * v;
        s2 += queries[q2 + d] * v;
        s3 += queries[q3 + d] * v;
      }
      o0[c] = s0;
      o1[c] = s1;
      o2[c] = s2;
      o3[c] = s3;
    }
  }
  for (; r < n; r++)
    dotScoresOne(queries.subarray(r * dim, (r + 1) * dim), dim, table, candidates, outs[r], bias);
}

/** One query: the scalar loop, and the reference `dotScores` must match bit for bit. */
export function dotScoresOne(
  query: Float32Array,
  dim: number,
  table: Float32Array,
  candidates: Int32Array,
  out: Float32Array,
  bias?: Float32Array,
): void {
  for (let c = 0; c < candidates.length; c++) {
    const item = candidates[c];
    const row = item * dim;
    let s = bias ? bias[item] : 0;
    for (let d = 0; d < dim; d++) s += query[d] * table[row + d];
    out[c] = s;
  }
}

/** Requests grouped by candidate array (by identity), in first-seen order. */
export function byCandidates(requests: ScoreRequest[]): ScoreRequest[][] {
  const groups = new Map<Int32Array, ScoreRequest[]>();
  for (const r of requests) {
    const group = groups.get(r.candidates);
    if (group) group.push(r);
    else groups.set(r.candidates, [r]);
  }
  return [...groups.values()];
}
