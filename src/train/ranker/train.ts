import { headAucs } from '../../core/eval/ranking-metrics.ts';
import { Random } from '../../core/random.ts';
import { CONTEXT_DIM } from '../../core/ranking/index.ts';
import type { EncoderInput } from '../../core/sequence/index.ts';
import { tf } from '../tf/backend.ts';
import { BestWeights } from '../tf/best-weights.ts';
import { epochBatches } from '../tf/epoch-batches.ts';
import { type TimeCut, timeCutAfter } from '../tf/time-cut.ts';
import { headRates, type RankerExamples } from './examples.ts';
import { HEADS, type RankerBatch, RankerModel, type RankerShape } from './model.ts';

/** A window's examples with the embeddings they reference. */
export interface RankerData {
  examples: RankerExamples;
  /** Long-term user embeddings as of the window's start, [users × dim]. */
  userLong: Float32Array;
  /** Short-term embedding at the start of each session, [sessions × dim]. */
  userShort: Float32Array;
  /** The item table, [items × dim]. */
  items: Float32Array;
  dim: number;
  /** Each session's newest actions before its start (encoderInput), what early-fusion rankers attend over. */
  sequences?: EncoderInput;
}

export interface RankerTrainOptions {
  learningRate: number;
  batchSize: number;
  maxEpochs: number;
  patience: number;
  /** Optional wall-clock cap, in seconds; off by default so that results never depend on the clock. */
  timeBudgetSeconds?: number;
  seed: number;
  /** Distillation: the teacher's probabilities on the training examples, and the weight of soft labels. */
  teacher?: { probs: Float32Array; alpha: number };
}

export const DEFAULT_RANKER_TRAINING: RankerTrainOptions = {
  learningRate: 2e-3,
  batchSize: 1024,
  maxEpochs: 40,
  patience: 3,
  seed: 1,
};

export interface RankerTrainResult {
  model: RankerModel;
  bestEpoch: number;
  /** Mean head AUC on the validation window at the best epoch. */
  validation: number;
  history: { epoch: number; loss: number; validation: number }[];
  seconds: number;
  /** Set when the optional time budget ended training: its last epoch (0-based). */
  timeCut?: TimeCut;
  headWeights: number[];
}

/** The rows `indices` of a window; `withSequence` adds each row's session sequence (early fusion). */
export function batchOf(data: RankerData, indices: ArrayLike<number>, withSequence = false): RankerBatch {
  const { dim, examples } = data;
  const size = indices.length;
  const batch: RankerBatch = {
    size,
    userLong: new Float32Array(size * dim),
    userShort: new Float32Array(size * dim),
    item: new Float32Array(size * dim),
    context: new Float32Array(size * CONTEXT_DIM),
  };
  if (withSequence) batch.sequence = sequenceRows(data, indices);
  const copy = (from: Float32Array, row: number, to: Float32Array, k: number) =>
    to.set(from.subarray(row * dim, (row + 1) * dim), k * dim);
  for (let k = 0; k < size; k++) {
    const n = indices[k];
    copy(data.userLong, examples.user[n], batch.userLong, k);
    copy(data.userShort, examples.session[n], batch.userShort, k);
    copy(data.items, examples.item[n], batch.item, k);
    batch.context.set(examples.context.subarray(n * CONTEXT_DIM, (n + 1) * CONTEXT_DIM), k * CONTEXT_DIM);
  }
  return batch;
}

function sequenceRows(data: RankerData, indices: ArrayLike<number>): NonNullable<RankerBatch['sequence']> {
  const source = data.sequences;
  if (!source)
    throw new Error('this window has no sequences (RankerData.sequences): early fusion needs them');
  const { length } = source;
  const fields = ['items', 'actions', 'time', 'mask'] as const;
  const widths = fields.map((f) => source[f].length / (source.size * length));
  const out = fields.map((_, k) => new Float32Array(indices.length * length * widths[k]));
  for (let r = 0; r < indices.length; r++) {
    const session = data.examples.session[indices[r]];
    fields.forEach((f, k) => {
      const n = length * widths[k];
      out[k].set(source[f].subarray(session * n, (session + 1) * n), r * n);
    });
  }
  return { items: out[0], actions: out[1], time: out[2], mask: out[3] };
}

/** Probabilities of every example, [size × 4]. */
export function predictAll(model: RankerModel, data: RankerData, chunk = 4096): Float32Array {
  const out = new Float32Array(data.examples.size * HEADS);
  for (let start = 0; start < data.examples.size; start += chunk) {
    const indices = Int32Array.from(
      { length: Math.min(chunk, data.examples.size - start) },
      (_, i) => start + i,
    );
    out.set(model.predict(batchOf(data, indices, model.shape.sequence !== undefined)), start * HEADS);
  }
  return out;
}

export { headAucs };

function meanAuc(aucs: Record<string, number>): number {
  const values = Object.values(aucs).filter((v) => !Number.isNaN(v));
  return values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
}

/** Per-head loss weights ∝ 1/√(positive rate), mean 1: rare heads (hide) are not drowned by common ones. */
export function headWeightsFor(examples: RankerExamples): number[] {
  const raw = headRates(examples).map((r) => 1 / Math.sqrt(Math.max(r, 1e-4)));
  const mean = raw.reduce((s, w) => s + w, 0) / raw.length;
  return raw.map((w) => w / mean);
}

function fitContextScaler(model: RankerModel, examples: RankerExamples): void {
  const n = examples.size;
  for (let c = 0; c < CONTEXT_DIM; c++) {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const v = examples.context[i * CONTEXT_DIM + c];
      sum += v;
      sq += v * v;
    }
    const mean = sum / Math.max(1, n);
    model.contextMean[c] = mean;
    model.contextStd[c] = Math.sqrt(Math.max(sq / Math.max(1, n) - mean * mean, 0)) || 1;
  }
}

/**
 * Weighted BCE per head on the training window; with `teacher`, the target is α·teacher + (1 − α)·label
 * (soft plus hard labels). Early stopping on the validation window's mean head AUC; the best epoch's
 * weights are kept.
 */
export function trainRanker(
  shape: RankerShape,
  train: RankerData,
  valid: RankerData,
  overrides: Partial<RankerTrainOptions> = {},
  onProgress: (epoch: number, step: number, steps: number, loss: number) => void = () => {},
): RankerTrainResult {
  const options = { ...DEFAULT_RANKER_TRAINING, ...overrides };
  const started = performance.now();
  const model = new RankerModel(shape, new Random(options.seed), options.learningRate);
  fitContextScaler(model, train.examples);
  const headWeights = headWeightsFor(train.examples);
  const weights = tf.tensor1d(headWeights);
  const n = train.examples.size;
  const history: RankerTrainResult['history'] = [];
  let timeCut: RankerTrainResult['timeCut'];
  const best = new BestWeights(model.params, options.patience);
  for (let epoch = 0; epoch < options.maxEpochs; epoch++) {
    const batches = epochBatches(n, options.batchSize, options.seed, epoch);
    const steps = batches.length;
    let lossSum = 0;
    for (let step = 0; step < steps; step++) {
      const picked = batches[step];
      const batch = batchOf(train, picked, shape.sequence !== undefined);
      const target = new Float32Array(picked.length * HEADS);
      for (let k = 0; k < picked.length; k++) {
        for (let h = 0; h < HEADS; h++) {
          const label = train.examples.labels[picked[k] * HEADS + h];
          target[k * HEADS + h] = options.teacher
            ? options.teacher.alpha * options.teacher.probs[picked[k] * HEADS + h] +
              (1 - options.teacher.alpha) * label
            : label;
        }
      }
      const { value, grads } = tf.variableGrads(() =>
        tf.tidy(() => {
          const x = model.forward(batch);
          const y = tf.tensor2d(target, [picked.length, HEADS]);
          // Stable BCE with logits: max(x, 0) − x·y + log(1 + e^−|x|).
          const bce = tf
            .relu(x)
            .sub(x.mul(y))
            .add(tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
          return bce.mean(0).mul(weights).mean() as tf.Scalar;
        }),
      );
      lossSum += value.dataSync()[0];
      model.params.apply(grads);
      tf.dispose([value, ...Object.values(grads)]);
      onProgress(epoch, step + 1, steps, lossSum / (step + 1));
    }
    const score = meanAuc(headAucs(predictAll(model, valid), valid.examples.labels));
    history.push({ epoch, loss: lossSum / steps, validation: score });
    if (best.update(epoch, score)) break;
    timeCut = timeCutAfter(epoch, options.maxEpochs, started, options.timeBudgetSeconds);
    if (timeCut) break;
  }
  best.restore();
  weights.dispose();
  return {
    model,
    bestEpoch: best.epoch,
    validation: best.score,
    history,
    seconds: (performance.now() - started) / 1000,
    timeCut,
    headWeights,
  };
}
