import type { Propagation } from './propagation.ts';

/** A batch of BPR triples: user, an item of theirs, an item not theirs (item ids, not node ids). */
export interface BprBatch {
  users: Int32Array;
  positives: Int32Array;
  negatives: Int32Array;
}

/** Scratch tables of nodes × dim that one gradient evaluation writes. */
export interface GradientScratch {
  final: Float32Array;
  gradFinal: Float32Array;
}

/**
 * The LightGCN objective of one batch on the layer-0 table `weights` (users then items, row-major):
 *   mean over triples of softplus(-(f_u·f_i - f_u·f_j))  +  (l2 / 2B) Σ_triples (‖e⁰_u‖² + ‖e⁰_i‖² + ‖e⁰_j‖²)
 * with f the propagated embeddings. Writes its gradient w.r.t. `weights` into `grad`: the gradient on f is
 * carried back by the same propagation, Â being symmetric. Returns the loss.
 */
export function bprLossAndGradient(
  propagation: Propagation,
  weights: Float32Array,
  batch: BprBatch,
  numUsers: number,
  l2: number,
  scratch: GradientScratch,
  grad: Float32Array,
): number {
  const { dim } = propagation;
  const { final, gradFinal } = scratch;
  const size = batch.users.length;
  propagation.run(weights, final);
  gradFinal.fill(0);
  const inv = 1 / size;
  let loss = 0;
  for (let s = 0; s < size; s++) {
    const pu = batch.users[s] * dim;
    const pi = (numUsers + batch.positives[s]) * dim;
    const pj = (numUsers + batch.negatives[s]) * dim;
    let x = 0;
    for (let d = 0; d < dim; d++) x += final[pu + d] * (final[pi + d] - final[pj + d]);
    loss += (x > 0 ? Math.log1p(Math.exp(-x)) : -x + Math.log1p(Math.exp(x))) * inv;
    // d/dx of softplus(-x) = -sigmoid(-x).
    const g = -inv / (1 + Math.exp(x));
    for (let d = 0; d < dim; d++) {
      gradFinal[pu + d] += g * (final[pi + d] - final[pj + d]);
      gradFinal[pi + d] += g * final[pu + d];
      gradFinal[pj + d] -= g * final[pu + d];
    }
  }
  propagation.run(gradFinal, grad);
  const decay = l2 * inv;
  for (let s = 0; s < size; s++) {
    for (const row of [batch.users[s], numUsers + batch.positives[s], numUsers + batch.negatives[s]]) {
      const p = row * dim;
      for (let d = 0; d < dim; d++) {
        loss += 0.5 * decay * weights[p + d] * weights[p + d];
        grad[p + d] += decay * weights[p + d];
      }
    }
  }
  return loss;
}
