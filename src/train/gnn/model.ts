import type { NeighborTable } from '../graph/index.ts';
import { keptNeighbors } from './computation.ts';
import { averageRows, type ItemContent } from './content.ts';
import type { GnnOptions } from './options.ts';

export interface DenseWeight {
  data: Float32Array;
  shape: number[];
}

/**
 * A trained GNN as plain arrays: everything `embedItems` needs, nothing tfjs-specific.
 *
 * Node input h⁰(i) = id(i) + mean of i's topic rows + mean of i's title-token rows (features the item
 * lacks add nothing). Layer l (1…L), PinSage's convolve with importance pooling:
 *   n(u) = Σ_v α_uv · ReLU(Q_l h(v) + q_l)    over u's kept neighbours, α renormalised over them
 *   z(u) = ReLU(W_l [h(u) ; n(u)] + w_l),      h'(u) = z(u) / ‖z(u)‖
 * and the item embedding is e(u) = normalise(G h^L(u) + g).
 */
export interface GnnModel {
  options: GnnOptions;
  numItems: number;
  content: ItemContent;
  /** numItems × dim, row-major. */
  id: Float32Array;
  /** Topic and title-token tables (vocabulary × dim), present with the matching content feature. */
  topic?: Float32Array;
  title?: Float32Array;
  /** Dense weights by name: Q{l} [dim, hidden], q{l} [hidden], W{l} [dim + hidden, dim], w{l} [dim], G [dim, dim], g [dim]. */
  dense: Record<string, DenseWeight>;
}

/** Names and shapes of the dense weights, in creation order (their seeded initial values depend on it). */
export function denseShapes(options: Pick<GnnOptions, 'dim' | 'hidden' | 'layers'>): [string, number[]][] {
  const { dim, hidden, layers } = options;
  const shapes: [string, number[]][] = [];
  for (let l = 0; l < layers; l++) {
    shapes.push([`Q${l}`, [dim, hidden]], [`q${l}`, [hidden]]);
    shapes.push([`W${l}`, [dim + hidden, dim]], [`w${l}`, [dim]]);
  }
  shapes.push(['G', [dim, dim]], ['g', [dim]]);
  return shapes;
}

/** The node inputs h⁰ of `items` ([items.length × dim]). */
export function nodeInputs(
  model: Pick<GnnModel, 'options' | 'content' | 'id' | 'topic' | 'title'>,
  items: ArrayLike<number>,
): Float32Array {
  const { dim } = model.options;
  const out = new Float32Array(items.length * dim);
  for (let n = 0; n < items.length; n++) {
    const row = items[n] * dim;
    for (let d = 0; d < dim; d++) out[n * dim + d] = model.id[row + d];
  }
  const { topics, titles } = model.content;
  for (const [feature, table] of [
    [topics, model.topic],
    [titles, model.title],
  ] as const) {
    if (!feature || !table) continue;
    const mean = averageRows(feature, table, dim, items);
    for (let i = 0; i < out.length; i++) out[i] += mean[i];
  }
  return out;
}

/** out[n] = act(bias + x[n] · W) for row-major x [rows × inDim], W [inDim × outDim]; skips zero inputs. */
function dense(
  x: Float32Array,
  rows: number,
  inDim: number,
  w: DenseWeight,
  bias: DenseWeight,
  relu: boolean,
  normalize: boolean,
): Float32Array {
  const outDim = w.shape[1];
  if (w.shape[0] !== inDim) throw new Error(`gnn: weight of shape [${w.shape}] applied to width ${inDim}`);
  const out = new Float32Array(rows * outDim);
  const W = w.data;
  const b = bias.data;
  const acc = new Float64Array(outDim);
  for (let n = 0; n < rows; n++) {
    for (let j = 0; j < outDim; j++) acc[j] = b[j];
    const xBase = n * inDim;
    for (let i = 0; i < inDim; i++) {
      const xi = x[xBase + i];
      if (xi === 0) continue;
      const wBase = i * outDim;
      for (let j = 0; j < outDim; j++) acc[j] += xi * W[wBase + j];
    }
    const base = n * outDim;
    let norm = 0;
    for (let j = 0; j < outDim; j++) {
      const v = relu && acc[j] < 0 ? 0 : acc[j];
      out[base + j] = v;
      norm += out[base + j] * out[base + j];
    }
    if (normalize) {
      const scale = 1 / Math.sqrt(norm + 1e-12);
      for (let j = 0; j < outDim; j++) out[base + j] *= scale;
    }
  }
  return out;
}

function weight(model: GnnModel, name: string): DenseWeight {
  const w = model.dense[name];
  if (!w) throw new Error(`gnn: the model lacks dense weight ${name}`);
  return w;
}

/**
 * Embeddings of every item ([numItems × dim], rows L2-normalised), computed layer by layer over the whole
 * graph as PinSage's offline inference does: each layer's output for all items, from the layer below. Cold
 * items are included: an item with no neighbours pools nothing (n = 0) and is embedded from its own input.
 * `neighbors`: pooled per node, default the model's `inferenceNeighbors` ('all': every neighbour of the table).
 */
export function embedItems(
  model: GnnModel,
  table: NeighborTable,
  options: { neighbors?: number | 'all' } = {},
): Float32Array {
  const { numItems } = model;
  const { dim, hidden, layers } = model.options;
  if (table.numItems !== numItems)
    throw new Error(`gnn: the neighbour table has ${table.numItems} items, the model ${numItems}`);
  const choice = options.neighbors ?? model.options.inferenceNeighbors;
  const k = choice === 'all' ? Number.MAX_SAFE_INTEGER : choice;
  const all = Int32Array.from({ length: numItems }, (_, i) => i);
  let h = nodeInputs(model, all);
  for (let l = 0; l < layers; l++) {
    const transformed = dense(h, numItems, dim, weight(model, `Q${l}`), weight(model, `q${l}`), true, false);
    // [h ; n] per item, n pooled from the neighbours' transformed rows.
    const joined = new Float32Array(numItems * (dim + hidden));
    const pooled = new Float64Array(hidden);
    for (let u = 0; u < numItems; u++) {
      const base = u * (dim + hidden);
      joined.set(h.subarray(u * dim, (u + 1) * dim), base);
      const { from, to, total } = keptNeighbors(table, u, k);
      if (!(total > 0)) continue;
      pooled.fill(0);
      for (let e = from; e < to; e++) {
        const alpha = Math.fround(table.weights[e] / total);
        const row = table.neighbors[e] * hidden;
        for (let j = 0; j < hidden; j++) pooled[j] += alpha * transformed[row + j];
      }
      for (let j = 0; j < hidden; j++) joined[base + dim + j] = pooled[j];
    }
    h = dense(joined, numItems, dim + hidden, weight(model, `W${l}`), weight(model, `w${l}`), true, true);
  }
  return dense(h, numItems, dim, weight(model, 'G'), weight(model, 'g'), false, true);
}
