import type { TrainingData } from '../../core/eval/model.ts';
import { derivedRandom, Random } from '../../core/random.ts';
import { loadCheckpoint, requireTensor, saveCheckpoint, type TensorArray } from '../checkpoint.ts';
import { tf } from '../tf/backend.ts';
import { matmulTransposed } from '../tf/matmul.ts';
import type { SparseEmbedding } from '../tf/sparse-embedding.ts';
import {
  bucketExamples,
  buildBatch,
  epochExamples,
  finalPositionOnly,
  type SequenceBatch,
} from './batches.ts';
import { DEFAULT_PINNERFORMER_OPTIONS, type PinnerFormerOptions } from './config.ts';
import { logQ, sampleNegatives, targetFrequencies } from './log-q.ts';
import { type ItemFeatures, PinnerFormerModel } from './model.ts';
import { type ActionSequence, trainingSequences } from './sequences.ts';

export interface TrainProgress {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  /** Sequences in the step just taken. */
  batchSize: number;
  examplesPerSecond: number;
  elapsedSeconds: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  validation?: number;
  seconds: number;
}

export interface TrainHooks {
  onProgress?: (progress: TrainProgress) => void;
  /** Validation score of the model as it stands (higher is better): drives early stopping. */
  validate?: (model: PinnerFormerModel) => number;
  onEpoch?: (record: EpochRecord) => void;
  /** Folder for checkpoints; training resumes from it when it holds one. */
  checkpointDir?: string;
  checkpointSeconds?: number;
  /** Test hook: stop after this many steps in total, as a killed run would. */
  stopAfterSteps?: number;
}

interface TrainerState {
  options: PinnerFormerOptions;
  numItems: number;
  epoch: number;
  step: number;
  totalSteps: number;
  elapsedSeconds: number;
  bestScore: number;
  bestEpoch: number;
  sinceBest: number;
  /** Epochs so far without a new best validation score (each one decays the learning rate by plateauDecay). */
  plateaus?: number;
  history: EpochRecord[];
  epochLoss: number;
  epochSteps: number;
  /** Optimizer step counts (a step without targets updates nothing). */
  denseSteps: number;
  itemInSteps: number;
  itemOutSteps: number;
  finished: boolean;
  timeCut?: TimeCut;
}

/** Set when the optional wall-clock cap ended training before its epochs or early stopping did. */
export interface TimeCut {
  /** The last epoch that ran (0-based). */
  afterEpoch: number;
  seconds: number;
}

export interface TrainResult {
  model: PinnerFormerModel;
  history: EpochRecord[];
  bestEpoch: number;
  seconds: number;
  steps: number;
  /** True when a checkpoint stop hook ended training early. */
  interrupted: boolean;
  timeCut?: TimeCut;
}

const IN_BATCH_NEGATIVES = 256;

function sparseState(prefix: string, table: SparseEmbedding): Record<string, TensorArray> {
  return { [`${prefix}`]: table.values, [`${prefix}.m`]: table.m, [`${prefix}.v`]: table.v };
}

function restoreSparse(
  checkpoint: NonNullable<ReturnType<typeof loadCheckpoint>>,
  prefix: string,
  table: SparseEmbedding,
) {
  table.values.set(requireTensor(checkpoint, prefix));
  table.m.set(requireTensor(checkpoint, `${prefix}.m`));
  table.v.set(requireTensor(checkpoint, `${prefix}.v`));
}

/** A trainable copy of gathered rows; the source tensor is released (a variable keeps its own reference). */
function rowsVariable(rows: Float32Array, count: number, dim: number): tf.Variable {
  const source = tf.tensor2d(rows, [count, dim]);
  const variable = tf.variable(source);
  source.dispose();
  return variable;
}

/**
 * The batch's (position, target) pairs as a grid [positions × slots], -1 where a position has fewer
 * targets than the busiest one: the loss then shares each position's negative logits among its targets.
 */
function targetGrid(batch: SequenceBatch): { slots: number; grid: Int32Array } {
  const count = new Int32Array(batch.items.length);
  for (const cell of batch.targetCells) count[cell]++;
  const slots = Math.max(1, ...count);
  const grid = new Int32Array(batch.items.length * slots).fill(-1);
  count.fill(0);
  batch.targetCells.forEach((cell, k) => {
    grid[cell * slots + count[cell]++] = batch.targetItems[k];
  });
  return { slots, grid };
}

/**
 * One optimisation step over the batch's (position, target) pairs with a sampled softmax; returns the mean
 * loss per pair, or NaN for a batch without pairs.
 */
function trainStep(
  model: PinnerFormerModel,
  batch: SequenceBatch,
  frequency: Float64Array,
  random: Random,
  learningRate: number,
): number {
  const { dim, randomNegatives, logQWeight } = model.options;
  const n = batch.items.length;
  const pairs = batch.targetItems.length;
  if (pairs === 0) return Number.NaN;
  const { slots, grid } = targetGrid(batch);
  const sampled = sampleNegatives(
    batch.targetItems,
    IN_BATCH_NEGATIVES,
    randomNegatives,
    model.numItems,
    random,
  );
  const negatives = sampled.items;
  const K = negatives.length;
  const q = (item: number) =>
    logQWeight * logQ(frequency[item], sampled.inBatchDraws, sampled.uniformDraws, model.numItems);
  const targetRows = Int32Array.from(grid, (t) => (t < 0 ? 0 : t));
  const weights = Float32Array.from(grid, (t) => (t < 0 ? 0 : 1));
  const posLogQ = Float32Array.from(targetRows, q);
  const negLogQ = Float32Array.from(negatives, q);
  // A negative that is the pair's own target is not a negative (negatives are distinct: one column each).
  const collisions = new Float32Array(n * slots * K);
  const negativeColumn = new Map<number, number>();
  negatives.forEach((item, j) => {
    negativeColumn.set(item, j);
  });
  grid.forEach((item, k) => {
    const j = item < 0 ? undefined : negativeColumn.get(item);
    if (j !== undefined) collisions[k * K + j] = -1e9;
  });

  const inputVar = rowsVariable(model.itemIn.gather(batch.items), n, dim);
  const positiveVar = rowsVariable(model.itemOut.gather(targetRows), n * slots, dim);
  const negativeVar = rowsVariable(model.itemOut.gather(negatives), K, dim);
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const user = model.encode(batch, inputVar as tf.Tensor2D, random).reshape([n, 1, dim]);
      const scale = model.scale();
      const positives = model
        .itemTower(positiveVar as tf.Tensor2D, model.featureRows(targetRows))
        .reshape([n, slots, dim]);
      const negativeItems = model.itemTower(negativeVar as tf.Tensor2D, model.featureRows(negatives));
      const positiveLogit = user
        .mul(positives)
        .sum(-1)
        .mul(scale)
        .sub(tf.tensor2d(posLogQ, [n, slots]));
      const negativeLogits = matmulTransposed(user.reshape([n, dim]) as tf.Tensor2D, negativeItems)
        .mul(scale)
        .sub(tf.tensor1d(negLogQ))
        .reshape([n, 1, K])
        .add(tf.tensor3d(collisions, [n, slots, K]));
      const logits = tf.concat([positiveLogit.expandDims(2), negativeLogits], 2);
      const perPair = tf.logSumExp(logits, 2).sub(positiveLogit);
      return perPair
        .mul(tf.tensor2d(weights, [n, slots]))
        .sum()
        .div(pairs) as tf.Scalar;
    }),
  );
  const loss = value.dataSync()[0];
  model.params.apply(grads, learningRate);
  const inputGrad = grads[inputVar.name].dataSync() as Float32Array;
  const positiveGrad = grads[positiveVar.name].dataSync() as Float32Array;
  const negativeGrad = grads[negativeVar.name].dataSync() as Float32Array;
  const inRows: number[] = [];
  const inGrads: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    if (!batch.valid[i]) continue;
    inRows.push(batch.items[i]);
    inGrads.push(inputGrad.subarray(i * dim, (i + 1) * dim));
  }
  const outRows: number[] = [];
  const outGrad = new Float32Array((pairs + K) * dim);
  grid.forEach((item, k) => {
    if (item < 0) return;
    outGrad.set(positiveGrad.subarray(k * dim, (k + 1) * dim), outRows.length * dim);
    outRows.push(item);
  });
  outGrad.set(negativeGrad, pairs * dim);
  outRows.push(...negatives);
  const flatten = (rows: Float32Array[]) => {
    const out = new Float32Array(rows.length * dim);
    rows.forEach((row, k) => {
      out.set(row, k * dim);
    });
    return out;
  };
  if (model.tied) {
    // One table read on both sides: both gradients go into a single lazy-Adam step.
    const both = new Float32Array(inGrads.length * dim + outGrad.length);
    both.set(flatten(inGrads));
    both.set(outGrad, inGrads.length * dim);
    model.itemOut.applyGradients([...inRows, ...outRows], both, learningRate);
  } else {
    model.itemIn.applyGradients(inRows, flatten(inGrads), learningRate);
    model.itemOut.applyGradients(outRows, outGrad, learningRate);
  }
  tf.dispose([value, inputVar, positiveVar, negativeVar, ...Object.values(grads)]);
  return loss;
}

/**
 * SSE on the input side: each real input token's item becomes a uniformly random one with probability
 * `rate` (its action and time stay). Targets were taken before, from the true sequence.
 */
function replaceInputItems(
  batch: SequenceBatch,
  rate: number,
  numItems: number,
  random: Random,
): SequenceBatch {
  if (rate <= 0) return batch;
  const items = batch.items.slice();
  for (let i = 0; i < items.length; i++) {
    if (batch.valid[i] && random.next() < rate) items[i] = random.int(numItems);
  }
  return { ...batch, items };
}

function epochBatches(sequences: ActionSequence[], options: PinnerFormerOptions, epoch: number) {
  const random = derivedRandom(options.seed, epoch, -1);
  const examples = epochExamples(sequences, options.maxLength, random, finalPositionOnly(options));
  return bucketExamples(examples, options.tokensPerBatch, random);
}

/**
 * Trains PinnerFormer on a split's training data. Every random draw of step s of epoch e comes from
 * derivedRandom(seed, e, s), so a run resumed from a checkpoint reproduces the uninterrupted one exactly.
 */
export async function trainPinnerFormer(
  data: TrainingData,
  overrides: Partial<PinnerFormerOptions> = {},
  hooks: TrainHooks = {},
  features?: ItemFeatures,
): Promise<TrainResult> {
  const options = { ...DEFAULT_PINNERFORMER_OPTIONS, ...overrides };
  if (options.dim % options.heads !== 0)
    throw new RangeError(`dim ${options.dim} is not divisible by heads ${options.heads}`);
  const model = new PinnerFormerModel(data.numItems, options, new Random(options.seed), features);
  const sequences = trainingSequences(data);
  const counts = new Float64Array(data.numItems);
  for (const s of sequences)
    s.items.forEach((item, t) => {
      if (s.positive[t]) counts[item]++;
    });
  const frequency = targetFrequencies(counts);

  let state: TrainerState = {
    options,
    numItems: data.numItems,
    epoch: 0,
    step: 0,
    totalSteps: 0,
    elapsedSeconds: 0,
    bestScore: Number.NEGATIVE_INFINITY,
    bestEpoch: -1,
    sinceBest: 0,
    history: [],
    epochLoss: 0,
    epochSteps: 0,
    denseSteps: 0,
    itemInSteps: 0,
    itemOutSteps: 0,
    finished: false,
  };
  let best: Record<string, { data: TensorArray; shape: number[] }> | undefined;
  const checkpointDir = hooks.checkpointDir;
  if (checkpointDir) {
    const checkpoint = loadCheckpoint<TrainerState>(checkpointDir);
    if (checkpoint) {
      // The time budget is how long to keep going, not what is learnt: a resumed run may have another. An
      // option added since the checkpoint was written compares as its default (what that run used).
      const comparable = (o: PinnerFormerOptions) =>
        JSON.stringify({ ...DEFAULT_PINNERFORMER_OPTIONS, ...o, timeBudgetSeconds: 0 });
      if (
        checkpoint.state.numItems !== data.numItems ||
        comparable(checkpoint.state.options) !== comparable(options)
      ) {
        throw new Error(
          `${checkpointDir} holds a checkpoint of different data or options; use a fresh --out folder`,
        );
      }
      state = { ...checkpoint.state, options };
      restoreSparse(checkpoint, 'itemIn', model.itemIn);
      restoreSparse(checkpoint, 'itemOut', model.itemOut);
      model.itemIn.step = state.itemInSteps;
      model.itemOut.step = state.itemOutSteps;
      model.params.restore(checkpoint, 'dense:', state.denseSteps);
      if (checkpoint.tensors.has('best:itemIn')) {
        best = {};
        for (const [name, data] of checkpoint.tensors) {
          if (name.startsWith('best:'))
            best[name] = { data, shape: checkpoint.shapes.get(name) ?? [data.length] };
        }
      }
    }
  }

  const snapshotBest = async () => {
    best = {
      'best:itemIn': { data: model.itemIn.values.slice(), shape: [model.itemIn.values.length] },
      'best:itemOut': { data: model.itemOut.values.slice(), shape: [model.itemOut.values.length] },
    };
    for (const [name, v] of Object.entries(model.params.export()))
      best[`best:${name}`] = { data: v.data.slice(), shape: v.shape };
  };
  const save = async () => {
    if (!checkpointDir) return;
    state.denseSteps = model.params.step;
    state.itemInSteps = model.itemIn.step;
    state.itemOutSteps = model.itemOut.step;
    saveCheckpoint(checkpointDir, state, {
      ...sparseState('itemIn', model.itemIn),
      ...sparseState('itemOut', model.itemOut),
      ...model.params.snapshot('dense:'),
      ...(best ?? {}),
    });
  };

  let sessionStart = performance.now();
  let lastSave = performance.now();
  const elapsed = () => state.elapsedSeconds + (performance.now() - sessionStart) / 1000;
  let interrupted = false;
  let sessionSteps = 0;
  outer: while (!state.finished) {
    const batches = epochBatches(sequences, options, state.epoch);
    const epochStart = performance.now();
    const learningRate = options.learningRate * options.plateauDecay ** (state.plateaus ?? 0);
    for (; state.step < batches.length; ) {
      const random = derivedRandom(options.seed, state.epoch, state.step);
      const batch = replaceInputItems(
        buildBatch(sequences, batches[state.step], { rule: options, random }),
        options.itemReplacement,
        data.numItems,
        random,
      );
      const stepStart = performance.now();
      const loss = trainStep(model, batch, frequency, random, learningRate);
      if (Number.isFinite(loss)) {
        state.epochLoss += loss;
        state.epochSteps++;
      }
      state.step++;
      state.totalSteps++;
      sessionSteps++;
      hooks.onProgress?.({
        epoch: state.epoch,
        step: state.step,
        stepsPerEpoch: batches.length,
        loss,
        batchSize: batch.size,
        examplesPerSecond: batch.size / ((performance.now() - stepStart) / 1000),
        elapsedSeconds: elapsed(),
      });
      if (hooks.stopAfterSteps !== undefined && sessionSteps >= hooks.stopAfterSteps) {
        state.elapsedSeconds = elapsed();
        sessionStart = performance.now();
        await save();
        interrupted = true;
        break outer;
      }
      if (checkpointDir && (performance.now() - lastSave) / 1000 > (hooks.checkpointSeconds ?? 60)) {
        state.elapsedSeconds = elapsed();
        sessionStart = performance.now();
        await save();
        lastSave = performance.now();
      }
    }
    const record: EpochRecord = {
      epoch: state.epoch,
      loss: state.epochSteps > 0 ? state.epochLoss / state.epochSteps : Number.NaN,
      seconds: (performance.now() - epochStart) / 1000,
    };
    if (hooks.validate) {
      record.validation = hooks.validate(model);
      if (record.validation > state.bestScore) {
        state.bestScore = record.validation;
        state.bestEpoch = state.epoch;
        state.sinceBest = 0;
        await snapshotBest();
      } else {
        state.sinceBest++;
        state.plateaus = (state.plateaus ?? 0) + 1;
      }
    } else {
      state.bestEpoch = state.epoch;
    }
    state.history.push(record);
    hooks.onEpoch?.(record);
    state.epoch++;
    state.step = 0;
    state.epochLoss = 0;
    state.epochSteps = 0;
    const done = state.epoch >= options.maxEpochs || state.sinceBest >= options.patience;
    if (!done && options.timeBudgetSeconds !== undefined && elapsed() >= options.timeBudgetSeconds)
      state.timeCut = { afterEpoch: state.epoch - 1, seconds: elapsed() };
    state.finished = done || state.timeCut !== undefined;
    state.elapsedSeconds = elapsed();
    sessionStart = performance.now();
    await save();
    lastSave = performance.now();
  }
  if (!interrupted && best) {
    model.itemIn.values.set(best['best:itemIn'].data);
    model.itemOut.values.set(best['best:itemOut'].data);
    for (const [name, v] of model.params.variables) {
      const saved = best[`best:${name}`];
      if (saved) v.assign(tf.tensor(saved.data, v.shape));
    }
  }
  return {
    model,
    history: state.history,
    bestEpoch: state.bestEpoch,
    seconds: elapsed(),
    steps: state.totalSteps,
    interrupted,
    timeCut: state.timeCut,
  };
}
