import type { NeighborTable } from '../graph/index.ts';

/**
 * The computation graph of one batch, built in JS: which nodes each layer computes and which lower-layer
 * rows each of them pools, every unique node computed once per layer.
 *
 * `levels[L]` are the targets (the nodes whose embeddings the loss uses); `levels[l - 1]` holds
 * `levels[l]` first, in the same order (so a node's own lower-layer row is its index), followed by the
 * neighbours they pool that are not already there. `levels[0]` are the input nodes.
 *
 * Layer l (1-based) pools, for node n of `levels[l]`, the rows `slots[l - 1][n·k .. n·k + k)` of
 * `levels[l - 1]` with weights `weights[l - 1][…]`: the node's top-k neighbours by importance, weights
 * renormalised to sum to 1 over the kept ones, padded with row 0 at weight 0 (a node with no neighbours
 * pools nothing).
 */
export interface Computation {
  k: number;
  levels: Int32Array[];
  slots: Int32Array[];
  weights: Float32Array[];
}

/** The kept neighbours of `item`: the first `k` of its list (the table keeps them most important first). */
export function keptNeighbors(
  table: NeighborTable,
  item: number,
  k: number,
): { from: number; to: number; total: number } {
  const from = table.offsets[item];
  const to = Math.min(table.offsets[item + 1], from + k);
  let total = 0;
  for (let e = from; e < to; e++) total += table.weights[e];
  return { from, to, total };
}

/**
 * Builds the computation graph for `targets` (distinct items) over `layers` layers, `k` neighbours per
 * node. `scratch` (numItems entries, all −1) may be passed to avoid an allocation per batch; it is left
 * all −1 again.
 */
export function buildComputation(
  table: NeighborTable,
  targets: Int32Array,
  layers: number,
  k: number,
  scratch: Int32Array = new Int32Array(table.numItems).fill(-1),
): Computation {
  const levels: Int32Array[] = new Array(layers + 1);
  const slots: Int32Array[] = new Array(layers);
  const weights: Float32Array[] = new Array(layers);
  levels[layers] = targets;
  for (let l = layers; l >= 1; l--) {
    const upper = levels[l];
    const lower: number[] = [];
    for (let n = 0; n < upper.length; n++) {
      if (scratch[upper[n]] !== -1) throw new Error(`computation: item ${upper[n]} is listed twice`);
      scratch[upper[n]] = n;
      lower.push(upper[n]);
    }
    const slot = new Int32Array(upper.length * k);
    const weight = new Float32Array(upper.length * k);
    for (let n = 0; n < upper.length; n++) {
      const { from, to, total } = keptNeighbors(table, upper[n], k);
      if (!(total > 0)) continue;
      for (let e = from; e < to; e++) {
        const v = table.neighbors[e];
        let row = scratch[v];
        if (row === -1) {
          row = lower.length;
          scratch[v] = row;
          lower.push(v);
        }
        slot[n * k + e - from] = row;
        weight[n * k + e - from] = table.weights[e] / total;
      }
    }
    for (const item of lower) scratch[item] = -1;
    levels[l - 1] = Int32Array.from(lower);
    slots[l - 1] = slot;
    weights[l - 1] = weight;
  }
  return { k, levels, slots, weights };
}
