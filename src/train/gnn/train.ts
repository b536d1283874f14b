import type { TrainingData } from '../../core/eval/model.ts';
import { derivedRandom, Random } from '../../core/random.ts';
import { loadCheckpoint, saveCheckpoint, type TensorArray } from '../checkpoint.ts';
import type { NeighborTable } from '../graph/index.ts';
import { initTraining } from '../tf/backend.ts';
import { itemContent } from './content.ts';
import { embedItems, type GnnModel } from './model.ts';
import { GnnNetwork } from './network.ts';
import { type GnnOptions, resolveGnnOptions } from './options.ts';
import { buildPairPool, pairCount, sampleBatch } from './pairs.ts';

export interface GnnProgress {
  /** 0-based epoch and the step within it just finished (1-based: `step` of `stepsPerEpoch` done). */
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  /** Mean loss of this epoch's steps so far. */
  loss: number;
  /** Positive pairs per second over the steps this run has made. */
  examplesPerSecond: number;
  hardNegatives: number;
}

export interface GnnTrainHooks {
  /** Resume from the checkpoint there, if any, and save into it while training. */
  checkpointDir?: string;
  onProgress?(info: GnnProgress): void;
  /** Scores an item table ([numItems × dim]) on validation data, higher is better; called after each epoch. */
  validate?(itemTable: Float32Array): number;
  /** Stops after the current step, with a checkpoint saved; trainGnn then rejects with an AbortError. */
  signal?: AbortSignal;
}

export interface GnnEpochRecord {
  epoch: number;
  loss: number;
  hardNegatives: number;
  score?: number;
}

export interface GnnTrainResult {
  /** The best epoch's weights when validating, the last epoch's otherwise. */
  model: GnnModel;
  /** `embedItems(model, neighbors)`: the item table of that model. */
  table: Float32Array;
  history: GnnEpochRecord[];
  bestEpoch: number;
  bestScore?: number;
  stepsPerEpoch: number;
  /** Steps this call made (not counting those before a resume) and the wall time it took. */
  steps: number;
  seconds: number;
  resumedAt?: { epoch: number; step: number };
  /** Positive pairs in the co-engagement pool. */
  pairs: number;
}

/** What a checkpoint's state.json holds besides the tensors. */
interface TrainState {
  kind: 'gnn';
  fingerprint: string;
  epoch: number;
  step: number;
  lossSum: number;
  history: GnnEpochRecord[];
  bestEpoch: number;
  bestScore: number | null;
  sinceBest: number;
  finished: boolean;
  tableSteps: Record<string, number>;
}

/** Options that shape the result (checkpoint cadence does not); a checkpoint only resumes a run with the same. */
function fingerprint(options: GnnOptions, numItems: number, neighbors: NeighborTable): string {
  const { checkpointEvery: _e, checkpointSeconds: _s, ...shaping } = options;
  return JSON.stringify({
    ...shaping,
    numItems,
    neighborEdges: neighbors.neighbors.length,
    hardEdges: neighbors.hard.length,
  });
}

function abortError(): Error {
  const error = new Error('gnn training stopped (checkpoint saved)');
  error.name = 'AbortError';
  return error;
}

const BEST = 'best/';

/**
 * Trains the PinSage-style GNN (see model.ts for the network) with the max-margin loss on co-engaged and
 * co-boarded pairs, in-batch negatives, uniformly drawn negatives shared by the batch, and a curriculum of
 * hard negatives (epoch e: min(e, maxHard) per anchor). Each step's sampling comes from derivedRandom(seed, epoch, step) and the whole state (weights,
 * both optimizers, the best epoch so far) is checkpointed, so a run stopped and resumed ends bit-identical
 * to one that was not. With `validate`, the best epoch's weights are kept and training stops after
 * `patience` epochs without improvement.
 */
export async function trainGnn(
  data: TrainingData,
  neighbors: NeighborTable,
  options: Partial<GnnOptions> = {},
  hooks: GnnTrainHooks = {},
): Promise<GnnTrainResult> {
  const o = resolveGnnOptions(options);
  await initTraining();
  if (neighbors.numItems !== data.numItems)
    throw new Error(`gnn: the neighbour table has ${neighbors.numItems} items, the data ${data.numItems}`);
  const content = itemContent(data.catalog, data.numItems, o);
  const pool = buildPairPool(data, o.window);
  const stepsPerEpoch =
    o.stepsPerEpoch ||
    Math.max(1, Math.min(o.maxStepsPerEpoch, Math.ceil(pairCount(pool) / (o.epochs * o.batchSize))));
  const print = fingerprint(o, data.numItems, neighbors);

  const network = new GnnNetwork(data.numItems, content, o, new Random(o.seed));
  try {
    let state: TrainState = {
      kind: 'gnn',
      fingerprint: print,
      epoch: 0,
      step: 0,
      lossSum: 0,
      history: [],
      bestEpoch: -1,
      bestScore: null,
      sinceBest: 0,
      finished: false,
      tableSteps: {},
    };
    let best: GnnModel | undefined;
    let resumedAt: GnnTrainResult['resumedAt'];
    const checkpoint = hooks.checkpointDir ? loadCheckpoint<TrainState>(hooks.checkpointDir) : undefined;
    if (checkpoint) {
      if (checkpoint.state.kind !== 'gnn' || checkpoint.state.fingerprint !== print)
        throw new Error(
          `gnn: the checkpoint in ${hooks.checkpointDir} is from a different run (options, data or graph differ); ` +
            'remove it or use another folder',
        );
      state = checkpoint.state;
      await network.restore(checkpoint, state.tableSteps);
      if (state.bestEpoch >= 0) best = restoreBest(network.export(), checkpoint.tensors);
      resumedAt = { epoch: state.epoch, step: state.step };
    }

    const save = async () => {
      if (!hooks.checkpointDir) return;
      const { tensors, steps } = await network.snapshot();
      state.tableSteps = steps;
      if (best) Object.assign(tensors, bestTensors(best));
      saveCheckpoint(hooks.checkpointDir, state, tensors);
    };

    const started = performance.now();
    let lastSave = started;
    let steps = 0;
    const lastEpoch = Math.min(o.epochs, o.trainEpochs ?? o.epochs);
    while (!state.finished && state.epoch < lastEpoch) {
      const hardPerAnchor = Math.min(state.epoch, o.maxHard);
      while (state.step < stepsPerEpoch) {
        const random = derivedRandom(o.seed, state.epoch, state.step);
        const batch = sampleBatch(pool, neighbors, random, {
          batchSize: o.batchSize,
          hardPerAnchor,
          boardShare: o.boardShare,
          sharedNegatives: o.sharedNegatives,
        });
        state.lossSum += network.trainStep(batch, neighbors);
        state.step++;
        steps++;
        const now = performance.now();
        hooks.onProgress?.({
          epoch: state.epoch,
          epochs: lastEpoch,
          step: state.step,
          stepsPerEpoch,
          loss: state.lossSum / state.step,
          examplesPerSecond: (steps * o.batchSize) / ((now - started) / 1000),
          hardNegatives: hardPerAnchor,
        });
        if (hooks.signal?.aborted) {
          await save();
          throw abortError();
        }
        const due =
          o.checkpointEvery > 0
            ? state.step % o.checkpointEvery === 0
            : now - lastSave >= o.checkpointSeconds * 1000;
        if (due && state.step < stepsPerEpoch) {
          await save();
          lastSave = performance.now();
        }
      }
      const record: GnnEpochRecord = {
        epoch: state.epoch,
        loss: state.lossSum / stepsPerEpoch,
        hardNegatives: hardPerAnchor,
      };
      if (hooks.validate) {
        const model = network.export();
        const score = hooks.validate(embedItems(model, neighbors));
        record.score = score;
        if (state.bestScore === null || score > state.bestScore) {
          state.bestScore = score;
          state.bestEpoch = state.epoch;
          state.sinceBest = 0;
          best = model;
        } else {
          state.sinceBest++;
          if (state.sinceBest >= Math.max(1, o.patience)) state.finished = true;
        }
      } else state.bestEpoch = state.epoch;
      state.history.push(record);
      state.epoch++;
      state.step = 0;
      state.lossSum = 0;
      if (state.epoch >= lastEpoch) state.finished = true;
      await save();
      lastSave = performance.now();
    }

    const model = hooks.validate && best ? best : network.export();
    return {
      model,
      table: embedItems(model, neighbors),
      history: state.history,
      bestEpoch: state.bestEpoch,
      bestScore: state.bestScore ?? undefined,
      stepsPerEpoch,
      steps,
      seconds: (performance.now() - started) / 1000,
      resumedAt,
      pairs: pool.a.length,
    };
  } finally {
    network.dispose();
  }
}

function bestTensors(best: GnnModel): Record<string, TensorArray | { data: TensorArray; shape: number[] }> {
  const out: Record<string, TensorArray | { data: TensorArray; shape: number[] }> = {};
  out[`${BEST}id`] = best.id;
  if (best.topic) out[`${BEST}topic`] = best.topic;
  if (best.title) out[`${BEST}title`] = best.title;
  for (const [name, weight] of Object.entries(best.dense)) out[`${BEST}dense:${name}`] = weight;
  return out;
}

/** The best epoch's model from a checkpoint, shaped like `like` (the network's current export). */
function restoreBest(like: GnnModel, tensors: Map<string, TensorArray>): GnnModel {
  const get = (name: string, length: number): Float32Array => {
    const data = tensors.get(`${BEST}${name}`);
    if (!(data instanceof Float32Array) || data.length !== length)
      throw new Error(`gnn: the checkpoint lacks ${BEST}${name} of ${length} values`);
    return data;
  };
  const dense: GnnModel['dense'] = {};
  for (const [name, weight] of Object.entries(like.dense))
    dense[name] = { data: get(`dense:${name}`, weight.data.length), shape: weight.shape };
  return {
    ...like,
    id: get('id', like.id.length),
    topic: like.topic && get('topic', like.topic.length),
    title: like.title && get('title', like.title.length),
    dense,
  };
}
