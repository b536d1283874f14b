import type { UserItems } from '../../core/interactions.ts';
import {
  type CsrMatrix,
  degrees,
  interactionMatrix,
  inverseSqrt,
  multiplyDense,
  transpose,
} from '../sparse/csr.ts';

/**
 * The symmetric-normalised user–item graph of LightGCN, Â = D^{-1/2} [[0, R], [Rᵀ, 0]] D^{-1/2}: nodes
 * 0..numUsers-1 are users, numUsers.. are items, and edge (u, i) weighs 1/sqrt(d_u · d_i).
 */
export function normalizedAdjacency(train: UserItems, numItems: number): CsrMatrix {
  const r = interactionMatrix(train, numItems);
  const rt = transpose(r);
  const { rows: du, cols: di } = degrees(r);
  const su = inverseSqrt(du);
  const si = inverseSqrt(di);
  const numUsers = r.rows;
  const n = numUsers + numItems;
  const offsets = new Int32Array(n + 1);
  for (let u = 0; u < numUsers; u++) offsets[u + 1] = r.offsets[u + 1];
  for (let i = 0; i < numItems; i++) offsets[numUsers + i + 1] = r.offsets[numUsers] + rt.offsets[i + 1];
  const indices = new Int32Array(2 * r.indices.length);
  const values = new Float32Array(2 * r.indices.length);
  for (let u = 0; u < numUsers; u++) {
    for (let k = r.offsets[u]; k < r.offsets[u + 1]; k++) {
      indices[k] = numUsers + r.indices[k];
      values[k] = su[u] * si[r.indices[k]];
    }
  }
  const base = r.indices.length;
  for (let i = 0; i < numItems; i++) {
    for (let k = rt.offsets[i]; k < rt.offsets[i + 1]; k++) {
      indices[base + k] = rt.indices[k];
      values[base + k] = si[i] * su[rt.indices[k]];
    }
  }
  return { rows: n, cols: n, offsets, indices, values };
}

/**
 * The mean of the layer outputs, (E + ÂE + … + Â^K E) / (K + 1), for a row-major table of `dim` columns.
 * Â is symmetric, so the same product carries a gradient on the output back to E.
 */
export class Propagation {
  private readonly layer: Float32Array;
  private readonly next: Float32Array;
  /** Seconds spent in sparse products since construction, for reports. */
  seconds = 0;

  constructor(
    readonly adjacency: CsrMatrix,
    readonly dim: number,
    readonly layers: number,
  ) {
    this.layer = new Float32Array(adjacency.rows * dim);
    this.next = new Float32Array(adjacency.rows * dim);
  }

  /** out = mean over k = 0..K of Â^k · input. */
  run(input: Float32Array, out: Float32Array): void {
    const started = performance.now();
    const scale = 1 / (this.layers + 1);
    let current = input;
    for (let i = 0; i < out.length; i++) out[i] = input[i] * scale;
    for (let k = 1; k <= this.layers; k++) {
      const target = k % 2 === 1 ? this.layer : this.next;
      multiplyDense(this.adjacency, current, this.dim, target);
      for (let i = 0; i < out.length; i++) out[i] += target[i] * scale;
      current = target;
    }
    this.seconds += (performance.now() - started) / 1000;
  }

  /**
   * Item rows of the fold-in table, out[i] = (Σ_{k<K} (Â^k E)_i) / ((K + 1)·sqrt(d_i)): a user who is not in
   * the graph, with item set W and a zero layer-0 row, has the final embedding (1/sqrt|W|)·Σ_{i∈W} out[i],
   * which is exactly what K propagations would give that user (their layer k + 1 is Σ_i (Â^k E)_i/sqrt(|W|d_i)).
   */
  foldIn(input: Float32Array, numUsers: number, out: Float32Array): void {
    const { dim, layers, adjacency } = this;
    const numItems = adjacency.rows - numUsers;
    const sum = new Float32Array(numItems * dim);
    let current = input;
    for (let k = 0; k < layers; k++) {
      if (k > 0) {
        const target = k % 2 === 1 ? this.layer : this.next;
        multiplyDense(adjacency, current, dim, target);
        current = target;
      }
      for (let i = 0; i < sum.length; i++) sum[i] += current[numUsers * dim + i];
    }
    for (let i = 0; i < numItems; i++) {
      const degree = adjacency.offsets[numUsers + i + 1] - adjacency.offsets[numUsers + i];
      const scale = degree > 0 ? 1 / ((layers + 1) * Math.sqrt(degree)) : 0;
      for (let d = 0; d < dim; d++) out[i * dim + d] = sum[i * dim + d] * scale;
    }
  }
}

/** A new user's final LightGCN embedding from the items they engaged with (each counted once). */
export function foldInUser(
  foldInTable: Float32Array,
  dim: number,
  items: Iterable<number>,
  out: Float32Array,
): void {
  out.fill(0);
  const distinct = new Set(items);
  if (distinct.size === 0) return;
  for (const i of distinct) for (let d = 0; d < dim; d++) out[d] += foldInTable[i * dim + d];
  const scale = 1 / Math.sqrt(distinct.size);
  for (let d = 0; d < dim; d++) out[d] *= scale;
}
