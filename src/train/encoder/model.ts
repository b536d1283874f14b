import type { Random } from '../../core/random.ts';
import { ACTION_TYPES, type EncoderInput, TIME_FEATURES } from '../../core/sequence/index.ts';
import { tf } from '../tf/backend.ts';
import { DenseParams } from '../tf/dense-params.ts';
import { matmul } from '../tf/matmul.ts';

export interface CompactEncoderShape {
  /** Width of the encoder's tokens. */
  dim: number;
  heads: number;
  /** Actions it reads (the newest ones). */
  length: number;
  /** Width of the item-table rows it reads, and of the user embedding it writes (the retrieval space). */
  itemDim: number;
}

/** LayerNormalization's epsilon; the ONNX export uses the same value. */
export const LAYER_NORM_EPSILON = 1e-6;
const NEG_INF = -1e9;

/**
 * The browser's real-time user encoder, distilled from PinnerFormer: one PreNorm transformer block over
 * the newest `length` actions whose query is the newest position only. With a single block that is exact
 * — no other position's output feeds anything — and it costs one query row instead of L. It reads the
 * bundle's item table (no id table of its own), so the bundle carries no second copy of the items.
 */
export class CompactEncoder {
  readonly shape: CompactEncoderShape;
  readonly params: DenseParams;

  constructor(shape: CompactEncoderShape, random: Random, learningRate: number) {
    const { dim, length, itemDim, heads } = shape;
    if (dim % heads !== 0) throw new RangeError(`encoder dim ${dim} is not divisible by heads ${heads}`);
    this.shape = shape;
    const p = new DenseParams(random, learningRate);
    p.add('itemIn', [itemDim, dim], 'glorot');
    p.add('action', [ACTION_TYPES, dim], { normal: 0.02 });
    p.add('time', [TIME_FEATURES, dim], { normal: 0.02 });
    p.add('position', [length, dim], { normal: 0.02 });
    p.add('ln1g', [dim], 'ones');
    p.add('ln1b', [dim], 'zeros');
    for (const w of ['q', 'k', 'v', 'o']) p.add(`w${w}`, [dim, dim], 'glorot');
    p.add('ln2g', [dim], 'ones');
    p.add('ln2b', [dim], 'zeros');
    p.add('ff1w', [dim, 2 * dim], 'glorot');
    p.add('ff1b', [2 * dim], 'zeros');
    p.add('ff2w', [2 * dim, dim], 'glorot');
    p.add('ff2b', [dim], 'zeros');
    p.add('lnfg', [dim], 'ones');
    p.add('lnfb', [dim], 'zeros');
    p.add('outw', [dim, itemDim], 'glorot');
    p.add('outb', [itemDim], 'zeros');
    this.params = p;
  }

  private layerNorm(x: tf.Tensor, g: string, b: string): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    return x
      .sub(mean)
      .div(variance.add(LAYER_NORM_EPSILON).sqrt())
      .mul(this.params.get(g))
      .add(this.params.get(b));
  }

  /** L2-normalised user embeddings [size, itemDim]. Every op has a one-to-one ONNX twin (export.ts). */
  forward(input: EncoderInput): tf.Tensor2D {
    const { size: B, length: L } = input;
    const { dim: D, heads: H, itemDim } = this.shape;
    if (L !== this.shape.length)
      throw new RangeError(`encoder input length ${L}, expected ${this.shape.length}`);
    const p = this.params;
    const dh = D / H;
    const mask = tf.tensor2d(input.mask, [B, L]);
    let x = matmul(tf.tensor2d(input.items, [B * L, itemDim]), p.get('itemIn'));
    x = x.add(matmul(tf.tensor2d(input.actions, [B * L, ACTION_TYPES]), p.get('action')));
    x = x.add(matmul(tf.tensor2d(input.time, [B * L, TIME_FEATURES]), p.get('time')));
    x = x.reshape([B, L, D]).add(p.get('position')).mul(mask.expandDims(2));
    const h = this.layerNorm(x, 'ln1g', 'ln1b');
    const hLast = h.slice([0, L - 1, 0], [B, 1, D]).reshape([B, D]);
    const q = matmul(hLast, p.get('wq')).reshape([B, 1, H, dh]).transpose([0, 2, 1, 3]);
    const hFlat = h.reshape([B * L, D]);
    const k = matmul(hFlat, p.get('wk')).reshape([B, L, H, dh]).transpose([0, 2, 3, 1]);
    const v = matmul(hFlat, p.get('wv')).reshape([B, L, H, dh]).transpose([0, 2, 1, 3]);
    const bias = mask.sub(1).mul(-NEG_INF).reshape([B, 1, 1, L]);
    const scores = matmul(q, k)
      .mul(1 / Math.sqrt(dh))
      .add(bias);
    const attended = matmul(tf.softmax(scores), v).transpose([0, 2, 1, 3]).reshape([B, D]);
    const xLast = x.slice([0, L - 1, 0], [B, 1, D]).reshape([B, D]);
    const y = xLast.add(matmul(attended, p.get('wo')));
    const h2 = this.layerNorm(y, 'ln2g', 'ln2b');
    const ff = matmul(tf.relu(matmul(h2, p.get('ff1w')).add(p.get('ff1b'))), p.get('ff2w')).add(
      p.get('ff2b'),
    );
    const z = this.layerNorm(y.add(ff), 'lnfg', 'lnfb');
    const out = matmul(z, p.get('outw')).add(p.get('outb'));
    return out.div(out.square().sum(-1, true).add(1e-12).sqrt()) as tf.Tensor2D;
  }

  /** Forward pass to plain floats, [size × itemDim]. */
  embed(input: EncoderInput): Float32Array {
    const result = tf.tidy(() => this.forward(input));
    const out = result.dataSync() as Float32Array;
    result.dispose();
    return out;
  }

  parameterCount(): number {
    return this.params.count();
  }
}
