import { RANKER_HEADS } from '../../core/bundle/manifest.ts';
import type { Random } from '../../core/random.ts';
import { CONTEXT_DIM } from '../../core/ranking/index.ts';
import { ACTION_TYPES, TIME_FEATURES } from '../../core/sequence/index.ts';
import { tf } from '../tf/backend.ts';
import { DenseParams } from '../tf/dense-params.ts';
import { matmul } from '../tf/matmul.ts';
import { targetAttention } from './attention.ts';

export interface RankerShape {
  /** Width of user and item embeddings (the retrieval space). */
  embeddingDim: number;
  /** Widths of the shared tower's ReLU layers. */
  hidden: number[];
  /** Width of each head's own ReLU layer; 0 = each head is linear on the shared tower. */
  headHidden: number;
  /**
   * Early fusion of the real-time sequence: target attention from the candidate over the user's newest
   * `length` actions, projected to `width`. Absent = late fusion (the sequence reaches the ranker only as
   * the compact encoder's `user_short`).
   */
  sequence?: SequenceShape;
}

export interface SequenceShape {
  length: number;
  width: number;
}

/** The early-fusion rankers' attention: newest 16 actions (the compact encoder's window), width 32. */
export const EARLY_FUSION: SequenceShape = { length: 16, width: 32 };

/** Width of one sequence token: item row, one-hot action, time features (src/core/sequence). */
export const tokenWidth = (embeddingDim: number) => embeddingDim + ACTION_TYPES + TIME_FEATURES;

/** The user's newest actions per row, as src/core/sequence's encoderInput lays them out (left-padded). */
export interface RankerSequence {
  /** [size × length × dim]. */
  items: Float32Array;
  /** [size × length × ACTION_TYPES]. */
  actions: Float32Array;
  /** [size × length × TIME_FEATURES]. */
  time: Float32Array;
  /** [size × length]. */
  mask: Float32Array;
}

export const TEACHER_SHAPE: Omit<RankerShape, 'embeddingDim'> = { hidden: [256, 128], headHidden: 32 };
export const STUDENT_SHAPE: Omit<RankerShape, 'embeddingDim'> = { hidden: [32], headHidden: 0 };

/** One batch of ranker input, row-major float32: [size × dim] ×3 and [size × CONTEXT_DIM]. */
export interface RankerBatch {
  size: number;
  userLong: Float32Array;
  userShort: Float32Array;
  item: Float32Array;
  context: Float32Array;
  /** Early-fusion rankers only. */
  sequence?: RankerSequence;
}

export const HEADS = RANKER_HEADS.length;

/**
 * The multi-head ranker: [u_long, u_short, item, u_long⊙item, u_short⊙item, standardised context] → a
 * shared ReLU tower → one logit per head (click, closeup, save, hide). Teacher and student differ only
 * in shape. The products hand the MLP the dot-product structure retrieval already learnt. With
 * `shape.sequence` (early fusion) the tower also reads target attention from the candidate's item row
 * over the user's newest actions (item row, action, time features), so it sees which recent actions
 * resemble this candidate rather than one summary of them all.
 */
export class RankerModel {
  readonly shape: RankerShape;
  readonly params: DenseParams;
  /** Context standardisation, fitted on the training examples and baked into the exported graph. */
  contextMean = new Float32Array(CONTEXT_DIM);
  contextStd = new Float32Array(CONTEXT_DIM).fill(1);

  constructor(shape: RankerShape, random: Random, learningRate: number) {
    this.shape = shape;
    const p = new DenseParams(random, learningRate);
    let width = 5 * shape.embeddingDim + CONTEXT_DIM;
    if (shape.sequence) {
      const { width: a } = shape.sequence;
      p.add('attq', [shape.embeddingDim, a], 'glorot');
      p.add('attk', [tokenWidth(shape.embeddingDim), a], 'glorot');
      p.add('attv', [tokenWidth(shape.embeddingDim), a], 'glorot');
      width += a;
    }
    shape.hidden.forEach((h, l) => {
      p.add(`w${l}`, [width, h], 'glorot');
      p.add(`b${l}`, [h], 'zeros');
      width = h;
    });
    for (let h = 0; h < HEADS; h++) {
      if (shape.headHidden > 0) {
        p.add(`head${h}w0`, [width, shape.headHidden], 'glorot');
        p.add(`head${h}b0`, [shape.headHidden], 'zeros');
      }
      p.add(`head${h}w`, [shape.headHidden > 0 ? shape.headHidden : width, 1], 'glorot');
      p.add(`head${h}b`, [1], 'zeros');
    }
    this.params = p;
  }

  /** Logits [size, 4]. */
  forward(batch: RankerBatch): tf.Tensor2D {
    const { size } = batch;
    const d = this.shape.embeddingDim;
    const p = this.params;
    const userLong = tf.tensor2d(batch.userLong, [size, d]);
    const userShort = tf.tensor2d(batch.userShort, [size, d]);
    const item = tf.tensor2d(batch.item, [size, d]);
    const context = tf
      .tensor2d(batch.context, [size, CONTEXT_DIM])
      .sub(tf.tensor1d(this.contextMean))
      .div(tf.tensor1d(this.contextStd));
    const parts = [userLong, userShort, item, userLong.mul(item), userShort.mul(item), context];
    if (this.shape.sequence) parts.push(this.attend(batch, item));
    let x: tf.Tensor = tf.concat(parts, 1);
    this.shape.hidden.forEach((_, l) => {
      x = tf.relu(matmul(x, p.get(`w${l}`)).add(p.get(`b${l}`)));
    });
    const logits: tf.Tensor[] = [];
    for (let h = 0; h < HEADS; h++) {
      let y = x;
      if (this.shape.headHidden > 0) y = tf.relu(matmul(y, p.get(`head${h}w0`)).add(p.get(`head${h}b0`)));
      logits.push(matmul(y, p.get(`head${h}w`)).add(p.get(`head${h}b`)));
    }
    return tf.concat(logits, 1) as tf.Tensor2D;
  }

  /** Target attention from the candidate's item row over the batch's sequences, [size, width]. */
  private attend(batch: RankerBatch, item: tf.Tensor2D): tf.Tensor2D {
    const { length: L, width: a } = this.shape.sequence!;
    const d = this.shape.embeddingDim;
    const seq = batch.sequence;
    if (!seq) throw new Error('an early-fusion ranker needs the batch sequence (RankerBatch.sequence)');
    const { size } = batch;
    const tokens = tf.concat(
      [
        tf.tensor3d(seq.items, [size, L, d]),
        tf.tensor3d(seq.actions, [size, L, ACTION_TYPES]),
        tf.tensor3d(seq.time, [size, L, TIME_FEATURES]),
      ],
      2,
    );
    const flat = tokens.reshape([size * L, tokenWidth(d)]);
    const p = this.params;
    const keys = matmul(flat, p.get('attk')).reshape([size, L, a]) as tf.Tensor3D;
    const values = matmul(flat, p.get('attv')).reshape([size, L, a]) as tf.Tensor3D;
    const query = matmul(item, p.get('attq')) as tf.Tensor2D;
    return targetAttention(query, keys, values, tf.tensor2d(seq.mask, [size, L]));
  }

  /** Head probabilities [size × 4] as plain floats. */
  predict(batch: RankerBatch): Float32Array {
    const result = tf.tidy(() => tf.sigmoid(this.forward(batch)));
    const out = result.dataSync() as Float32Array;
    result.dispose();
    return out;
  }

  parameterCount(): number {
    return this.params.count();
  }
}
