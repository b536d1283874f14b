import type { Random } from '../../core/random.ts';
import { tf } from '../tf/backend.ts';
import { DenseParams } from '../tf/dense-params.ts';
import { matmul } from '../tf/matmul.ts';
import { SparseEmbedding } from '../tf/sparse-embedding.ts';
import type { SequenceBatch } from './batches.ts';
import { ACTION_TYPES, type PinnerFormerOptions, TIME_FEATURES } from './config.ts';

/** Frozen item features from the GNN (PinSage embeddings), projected into the model's width. */
export interface ItemFeatures {
  table: Float32Array;
  dim: number;
}

const NEG_INF = -1e9;

/**
 * PinnerFormer's encoder and item tower. Item-id tables live outside the graph (SparseEmbedding); dense
 * weights inside (DenseParams). Every random choice (dropout masks) comes from the caller's stream.
 */
export class PinnerFormerModel {
  readonly options: PinnerFormerOptions;
  readonly params: DenseParams;
  readonly itemIn: SparseEmbedding;
  readonly itemOut: SparseEmbedding;
  readonly features?: ItemFeatures;
  readonly numItems: number;

  get tied(): boolean {
    return this.itemIn === this.itemOut;
  }

  constructor(numItems: number, options: PinnerFormerOptions, random: Random, features?: ItemFeatures) {
    const { dim, layers, maxLength } = options;
    this.options = options;
    this.numItems = numItems;
    this.features = features;
    this.itemOut = new SparseEmbedding(numItems, dim, { learningRate: options.learningRate }).initNormal(
      random,
      0.05,
    );
    // Tied (SASRec): the encoder reads the same item table the output scores against.
    this.itemIn = options.tieEmbeddings
      ? this.itemOut
      : new SparseEmbedding(numItems, dim, { learningRate: options.learningRate }).initNormal(random, 0.05);
    const p = new DenseParams(random, options.learningRate);
    p.add('position', [maxLength, dim], { normal: 0.02 });
    if (options.relativePositions) p.add('distanceBias', [maxLength, options.heads], 'zeros');
    p.add('action', [ACTION_TYPES, dim], { normal: 0.02 });
    p.add('time', [TIME_FEATURES, dim], { normal: 0.02 });
    if (features) {
      p.add('featuresIn', [features.dim, dim], 'glorot');
      p.add('featuresOut', [features.dim, dim], 'glorot');
    }
    for (let l = 0; l < layers; l++) {
      p.add(`ln1g${l}`, [dim], 'ones');
      p.add(`ln1b${l}`, [dim], 'zeros');
      for (const w of ['q', 'k', 'v', 'o']) p.add(`w${w}${l}`, [dim, dim], 'glorot');
      p.add(`ln2g${l}`, [dim], 'ones');
      p.add(`ln2b${l}`, [dim], 'zeros');
      p.add(`ff1w${l}`, [dim, 2 * dim], 'glorot');
      p.add(`ff1b${l}`, [2 * dim], 'zeros');
      p.add(`ff2w${l}`, [2 * dim, dim], 'glorot');
      p.add(`ff2b${l}`, [dim], 'zeros');
    }
    p.add('lnfg', [dim], 'ones');
    p.add('lnfb', [dim], 'zeros');
    p.add('out1w', [dim, dim], 'glorot');
    p.add('out1b', [dim], 'zeros');
    p.add('out2w', [dim, dim], 'glorot');
    p.add('out2b', [dim], 'zeros');
    // Learned softmax temperature, as a log-scale on cosine logits (starts at 1/0.05).
    p.add('logScale', [], 'zeros').assign(tf.scalar(Math.log(20)));
    this.params = p;
  }

  private layerNorm(x: tf.Tensor, g: string, b: string): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    return x.sub(mean).div(variance.add(1e-6).sqrt()).mul(this.params.get(g)).add(this.params.get(b));
  }

  /** Row-wise features of `items` (non-trainable input), or undefined without GNN features. */
  featureRows(items: ArrayLike<number>): tf.Tensor2D | undefined {
    if (!this.features) return undefined;
    const { table, dim } = this.features;
    const rows = new Float32Array(items.length * dim);
    for (let n = 0; n < items.length; n++)
      rows.set(table.subarray(items[n] * dim, (items[n] + 1) * dim), n * dim);
    return tf.tensor2d(rows, [items.length, dim]);
  }

  /** Deterministic inverted dropout: the mask comes from our seeded stream, not tf's generator. */
  private dropout(x: tf.Tensor, random: Random | undefined): tf.Tensor {
    const rate = this.options.dropout;
    if (!random || rate <= 0) return x;
    const mask = new Float32Array(x.size);
    const keep = 1 / (1 - rate);
    for (let i = 0; i < mask.length; i++) mask[i] = random.next() < rate ? 0 : keep;
    return x.mul(tf.tensor(mask, x.shape));
  }

  /**
   * User embeddings at every position, [size, length, dim], L2-normalised. `inputRows` holds the gathered
   * item-id rows ([size·length, dim]); pass `random` to train (dropout on), omit it to infer.
   */
  encode(batch: SequenceBatch, inputRows: tf.Tensor2D, random?: Random): tf.Tensor3D {
    const { size: B, length: L } = batch;
    const { dim: D, heads: H, layers } = this.options;
    const p = this.params;
    const dh = D / H;
    const valid = tf.tensor3d(Float32Array.from(batch.valid), [B, L, 1]);
    let x: tf.Tensor = inputRows;
    const features = this.featureRows(batch.items);
    if (features) x = x.add(matmul(features, p.get('featuresIn')));
    const actions = tf.oneHot(tf.tensor1d(Int32Array.from(batch.actions), 'int32'), ACTION_TYPES).toFloat();
    x = x.add(matmul(actions, p.get('action')));
    x = x.add(matmul(tf.tensor2d(batch.time, [B * L, TIME_FEATURES]), p.get('time')));
    // Positions count from the window's oldest action, so a position's input never encodes how many
    // actions follow it (counting back from the newest would, and dense training would learn from it).
    const positionIndex = new Int32Array(B * L);
    for (let b = 0; b < B; b++) {
      let first = L;
      while (first > 0 && batch.valid[b * L + first - 1]) first--;
      for (let i = first; i < L; i++) positionIndex[b * L + i] = i - first;
    }
    // A one-hot product, not a gather: the wasm backend has no gradient kernel for gather.
    const positions = matmul(
      tf.oneHot(tf.tensor1d(positionIndex, 'int32'), this.options.maxLength).toFloat() as tf.Tensor2D,
      p.get('position'),
    );
    x = x.add(positions).reshape([B, L, D]).mul(valid);
    x = this.dropout(x, random);

    const mask = new Float32Array(B * L * L);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < L; i++) {
        for (let j = 0; j < L; j++) {
          mask[(b * L + i) * L + j] = j <= i && batch.valid[b * L + j] ? 0 : NEG_INF;
        }
      }
    }
    let attentionMask: tf.Tensor = tf.tensor4d(mask, [B, 1, L, L]);
    if (this.options.relativePositions) attentionMask = attentionMask.add(this.distanceBias(L));
    const project = (t: tf.Tensor, w: string) => matmul(t.reshape([B * L, -1]), p.get(w));
    const split = (t: tf.Tensor) => t.reshape([B, L, H, dh]).transpose([0, 2, 1, 3]);
    for (let l = 0; l < layers; l++) {
      const h = this.layerNorm(x, `ln1g${l}`, `ln1b${l}`);
      const q = split(project(h, `wq${l}`));
      const k = split(project(h, `wk${l}`));
      const v = split(project(h, `wv${l}`));
      const scores = tf.matMul(q, k, false, true).div(Math.sqrt(dh)).add(attentionMask);
      const attended = tf
        .matMul(tf.softmax(scores), v)
        .transpose([0, 2, 1, 3])
        .reshape([B * L, D]);
      x = x.add(this.dropout(matmul(attended, p.get(`wo${l}`)).reshape([B, L, D]), random));
      const h2 = this.layerNorm(x, `ln2g${l}`, `ln2b${l}`).reshape([B * L, D]);
      const ff = matmul(tf.relu(matmul(h2, p.get(`ff1w${l}`)).add(p.get(`ff1b${l}`))), p.get(`ff2w${l}`));
      x = x.add(this.dropout(ff.add(p.get(`ff2b${l}`)).reshape([B, L, D]), random)).mul(valid);
    }
    const h = this.layerNorm(x, 'lnfg', 'lnfb').reshape([B * L, D]);
    // Residual output MLP: a ReLU bottleneck alone can go dead and collapse positions onto one vector.
    const hidden = tf.relu(matmul(h, p.get('out1w')).add(p.get('out1b')));
    const user = h.add(matmul(hidden, p.get('out2w')).add(p.get('out2b')));
    return l2Normalize(user).reshape([B, L, D]);
  }

  /**
   * [1, heads, L, L]: the learned bias of each query–key distance. Built as a one-hot product rather than a
   * gather (no gather gradient on wasm); distances above the diagonal are masked anyway, so they read 0.
   */
  private distanceBias(L: number): tf.Tensor {
    const { heads: H, maxLength } = this.options;
    const distance = new Int32Array(L * L);
    for (let i = 0; i < L; i++) for (let j = 0; j <= i; j++) distance[i * L + j] = i - j;
    const oneHot = tf.oneHot(tf.tensor1d(distance, 'int32'), maxLength).toFloat() as tf.Tensor2D;
    return matmul(oneHot, this.params.get('distanceBias'))
      .reshape([L, L, H])
      .transpose([2, 0, 1])
      .expandDims(0);
  }

  /** The item tower: id rows plus projected GNN features, L2-normalised. */
  itemTower(rows: tf.Tensor2D, features?: tf.Tensor2D): tf.Tensor2D {
    const combined = features ? rows.add(matmul(features, this.params.get('featuresOut'))) : rows;
    return l2Normalize(combined) as tf.Tensor2D;
  }

  scale(): tf.Tensor {
    return this.params.get('logScale').clipByValue(0, Math.log(100)).exp();
  }

  /** Final embedding of every item (the table retrieval runs over), [numItems × dim] row-major. */
  itemTable(): Float32Array {
    const { dim } = this.options;
    const out = new Float32Array(this.numItems * dim);
    const chunk = 4096;
    for (let start = 0; start < this.numItems; start += chunk) {
      const ids = Int32Array.from({ length: Math.min(chunk, this.numItems - start) }, (_, i) => start + i);
      const result = tf.tidy(() => {
        const rows = tf.tensor2d(this.itemOut.gather(ids), [ids.length, dim]);
        return this.itemTower(rows, this.featureRows(ids));
      });
      out.set(result.dataSync(), start * dim);
      result.dispose();
    }
    return out;
  }

  /** The user embedding after each sequence's newest action, [size × dim]. */
  userEmbeddings(batch: SequenceBatch): Float32Array {
    const { dim } = this.options;
    const result = tf.tidy(() => {
      const rows = tf.tensor2d(this.itemIn.gather(batch.items), [batch.items.length, dim]);
      const encoded = this.encode(batch, rows);
      return encoded.slice([0, batch.length - 1, 0], [batch.size, 1, dim]).reshape([batch.size, dim]);
    });
    const out = result.dataSync() as Float32Array;
    result.dispose();
    return out;
  }
}

export function l2Normalize(x: tf.Tensor): tf.Tensor {
  return x.div(x.square().sum(-1, true).add(1e-12).sqrt());
}
