import { Random } from '../../core/random.ts';
import { type ActionWindow, type EncoderInput, encoderInput, tableRows } from '../../core/sequence/index.ts';
import type { ActionSequence } from '../pinnerformer/sequences.ts';
import type { UserSpace } from '../space/index.ts';
import { tf } from '../tf/backend.ts';
import { BestWeights } from '../tf/best-weights.ts';
import { epochBatches } from '../tf/epoch-batches.ts';
import { type TimeCut, timeCutAfter } from '../tf/time-cut.ts';
import { CompactEncoder, type CompactEncoderShape } from './model.ts';

export interface DistillOptions extends CompactEncoderShape {
  learningRate: number;
  batchSize: number;
  /** Cut points sampled per user: the encoder learns the teacher's embedding after each. */
  windowsPerUser: number;
  /** Share of users held out to validate (mean cosine to the teacher) and stop early. */
  validationShare: number;
  maxEpochs: number;
  patience: number;
  /** Optional wall-clock cap, in seconds; off by default so that results never depend on the clock. */
  timeBudgetSeconds?: number;
  seed: number;
}

export const DEFAULT_DISTILL_OPTIONS: DistillOptions = {
  dim: 32,
  heads: 2,
  length: 32,
  itemDim: 64,
  learningRate: 3e-3,
  batchSize: 256,
  windowsPerUser: 4,
  validationShare: 0.1,
  maxEpochs: 30,
  patience: 3,
  seed: 1,
};

export interface DistillProgress {
  epoch: number;
  step: number;
  steps: number;
  loss: number;
}

export interface DistillResult {
  encoder: CompactEncoder;
  bestEpoch: number;
  /** Mean cosine between the student's and the teacher's user embeddings on held-out users. */
  validationCosine: number;
  history: { epoch: number; loss: number; validation: number }[];
  seconds: number;
  /** Set when the optional time budget ended training: its last epoch (0-based). */
  timeCut?: TimeCut;
}

interface Targets {
  windows: ActionWindow[];
  teacher: Float32Array;
}

/** Cut points of each user's sequence (always the newest state, plus random earlier ones). */
function sampleWindows(sequences: ActionSequence[], users: number[], perUser: number, random: Random) {
  const windows: { user: number; end: number }[] = [];
  for (const user of users) {
    const n = sequences[user].items.length;
    if (n === 0) continue;
    const ends = new Set([n]);
    for (let k = 1; k < Math.min(perUser, n); k++) ends.add(1 + random.int(n));
    for (const end of ends) windows.push({ user, end });
  }
  return windows;
}

function targetsFor(
  teacher: Pick<UserSpace, 'embedSequences'>,
  sequences: ActionSequence[],
  cuts: { user: number; end: number }[],
): Targets {
  const cut = (s: ActionSequence, end: number): ActionSequence => ({
    items: s.items.subarray(0, end),
    actions: s.actions.subarray(0, end),
    ts: s.ts.subarray(0, end),
    positive: s.positive.subarray(0, end),
  });
  const truncated = cuts.map(({ user, end }) => cut(sequences[user], end));
  return { windows: truncated, teacher: teacher.embedSequences(truncated) };
}

function meanCosine(encoder: CompactEncoder, targets: Targets, rows: (w: ActionWindow[]) => EncoderInput) {
  const { itemDim } = encoder.shape;
  let sum = 0;
  for (let start = 0; start < targets.windows.length; start += 512) {
    const chunk = targets.windows.slice(start, start + 512);
    const student = encoder.embed(rows(chunk));
    for (let i = 0; i < chunk.length; i++) {
      let dot = 0;
      for (let d = 0; d < itemDim; d++)
        dot += student[i * itemDim + d] * targets.teacher[(start + i) * itemDim + d];
      sum += dot;
    }
  }
  return sum / Math.max(1, targets.windows.length);
}

/**
 * Distils PinnerFormer into the compact encoder: for sampled cut points of every training user's action
 * sequence, the student learns the teacher's user embedding (loss 1 − cosine), reading the teacher's
 * final item table. Early stopping on held-out users' cosine; the best epoch's weights are kept.
 */
export function distillEncoder(
  teacher: Pick<UserSpace, 'embedSequences'>,
  sequences: ActionSequence[],
  itemTable: Float32Array,
  overrides: Partial<DistillOptions> = {},
  onProgress: (p: DistillProgress) => void = () => {},
): DistillResult {
  const options = { ...DEFAULT_DISTILL_OPTIONS, ...overrides };
  const started = performance.now();
  const random = new Random(options.seed);
  const users = sequences.map((_, u) => u).filter((u) => sequences[u].items.length > 0);
  random.shuffle(users);
  const held = Math.max(1, Math.round(users.length * options.validationShare));
  const validation = targetsFor(
    teacher,
    sequences,
    sampleWindows(sequences, users.slice(0, held), 1, random),
  );
  const training = targetsFor(
    teacher,
    sequences,
    sampleWindows(sequences, users.slice(held), options.windowsPerUser, random),
  );
  const rowOf = tableRows(itemTable, options.itemDim);
  const rows = (w: ActionWindow[]) => encoderInput(w, options.length, options.itemDim, rowOf);
  const encoder = new CompactEncoder(options, random, options.learningRate);

  const best = new BestWeights(encoder.params, options.patience);
  const history: DistillResult['history'] = [];
  let timeCut: DistillResult['timeCut'];
  const n = training.windows.length;
  const { itemDim } = options;
  for (let epoch = 0; epoch < options.maxEpochs; epoch++) {
    const batches = epochBatches(n, options.batchSize, options.seed, epoch);
    const steps = batches.length;
    let lossSum = 0;
    for (let step = 0; step < steps; step++) {
      const picked = batches[step];
      const input = rows(Array.from(picked, (i) => training.windows[i]));
      const target = new Float32Array(picked.length * itemDim);
      picked.forEach((i, k) => {
        target.set(training.teacher.subarray(i * itemDim, (i + 1) * itemDim), k * itemDim);
      });
      const { value, grads } = tf.variableGrads(() =>
        tf.tidy(() => {
          const student = encoder.forward(input);
          const cosine = student.mul(tf.tensor2d(target, [picked.length, itemDim])).sum(-1);
          return tf.scalar(1).sub(cosine.mean()) as tf.Scalar;
        }),
      );
      const loss = value.dataSync()[0];
      encoder.params.apply(grads);
      tf.dispose([value, ...Object.values(grads)]);
      lossSum += loss;
      onProgress({ epoch, step: step + 1, steps, loss });
    }
    const score = meanCosine(encoder, validation, rows);
    history.push({ epoch, loss: lossSum / steps, validation: score });
    if (best.update(epoch, score)) break;
    timeCut = timeCutAfter(epoch, options.maxEpochs, started, options.timeBudgetSeconds);
    if (timeCut) break;
  }
  best.restore();
  return {
    encoder,
    bestEpoch: best.epoch,
    validationCosine: best.score,
    history,
    seconds: (performance.now() - started) / 1000,
    timeCut,
  };
}
