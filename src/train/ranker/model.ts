import { RANKER_HEADS } from '../../core/bundle/manifest.ts';
import type { Random } from '../../core/random.ts';
import { CONTEXT_DIM } from '../../core/ranking/index.ts';
import { tf } from '../tf/backend.ts';
import { DenseParams } from '../tf/dense-params.ts';
import { matmul } from '../tf/matmul.ts';

export interface RankerShape {
  /** Width of user and item embeddings (the retrieval space). */
  embeddingDim: number;
  /** Widths of the shared tower's ReLU layers. */
  hidden: number[];
  /** Width of each head's own ReLU layer; 0 = each head is linear on the shared tower. */
  headHidden: number;
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
}

export const HEADS = RANKER_HEADS.length;

/**
 * The multi-head ranker: [u_long, u_short, item, u_long⊙item, u_short⊙item, standardised context] → a
 * shared ReLU tower → one logit per head (click, closeup, save, hide). Teacher and student differ only
 * in shape. The products hand the MLP the dot-product structure retrieval already learnt.
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
    let x: tf.Tensor = tf.concat(
      [userLong, userShort, item, userLong.mul(item), userShort.mul(item), context],
      1,
    );
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
