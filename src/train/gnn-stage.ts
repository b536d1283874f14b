import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { refitData } from '../core/eval/harness.ts';
import { evaluateItemToItem } from '../core/eval/item-to-item.ts';
import type { TrainingData } from '../core/eval/model.ts';
import type { EvalSplit } from '../core/eval/split.ts';
import { type GnnOptions, GnnRecommender, type GnnTrainHooks, trainGnn } from './gnn/index.ts';
import { boardsFor, type NeighborTable, PinBoardGraph, sampleNeighbors } from './graph/index.ts';
import {
  type RunManifest,
  readTable,
  type StageProgress,
  type TrainRunOptions,
  writeTable,
} from './pipeline.ts';

/**
 * The PinSage graph of `data`: boards (the catalog's, or derived from co-engagement) → random walks with
 * restart → each item's top-T neighbours. `edgerec train` and the refit check build it the same way.
 */
export function sampleItemGraph(
  data: TrainingData,
  seed: number,
  onProgress?: (done: number, total: number) => void,
): Promise<NeighborTable> {
  return sampleNeighbors(PinBoardGraph.fromBoards(data.numItems, boardsFor(data)), { seed, onProgress });
}

/**
 * The GNN's model-selection score for a table: both metrics the item-to-item task is judged by (HR@10 +
 * MRR), on the validation stage's co-engagements of `users` sampled users.
 */
export function gnnValidation(
  split: EvalSplit,
  dim: number,
  seed: number,
  users: number,
): (table: Float32Array) => number {
  return (table) => {
    const { metrics } = evaluateItemToItem(GnnRecommender.fromTable(table, dim), split, 'valid', {
      sampleUsers: users,
      seed,
    });
    return metrics['HR@10'] + metrics.MRR;
  };
}

/**
 * The GNN refit: the PinSage graph sampled again from `data` (training + validation events), and a fresh
 * GNN with the same options and seed trained on it for `trainEpochs` epochs of the selection fit's schedule,
 * with no validation hook. `edgerec train --refit` and the refit check call this one function.
 */
export async function refitGnn(
  data: TrainingData,
  options: Partial<GnnOptions> & { seed: number },
  trainEpochs: number,
  hooks: GnnTrainHooks = {},
): Promise<Float32Array> {
  const neighbors = await sampleItemGraph(data, options.seed);
  return (await trainGnn(data, neighbors, { ...options, trainEpochs }, hooks)).table;
}

/** The refit GNN table a refit run's PinnerFormer refit reads (gnn/items.f32 stays the validation-chosen one). */
export const GNN_REFIT_TABLE = join('gnn', 'refit', 'items.f32');

/**
 * With `--refit`, the GNN table PinnerFormer's refit reads as item features: the selection GNN's best epoch
 * count, refit on training + validation events (`refitGnn`), so that the refit PinnerFormer's inputs have
 * seen the same events it trains on. Written to gnn/refit/items.f32, recorded in `stages.gnn.refit`; a
 * finished table is read back, a killed refit resumes from gnn/refit-checkpoint/.
 */
export async function trainGnnRefitStage(
  split: EvalSplit,
  outDir: string,
  options: TrainRunOptions,
  manifest: RunManifest,
  save: () => void,
  onProgress: (p: StageProgress) => void,
): Promise<Float32Array> {
  const file = join(outDir, GNN_REFIT_TABLE);
  if (existsSync(file)) return readTable(file);
  const record = manifest.stages.gnn;
  if (record?.bestEpoch === undefined)
    throw new Error(`${outDir}/run.json does not record the GNN's selection fit, which its refit needs`);
  const started = performance.now();
  const epochs = record.bestEpoch + 1;
  const data = refitData(split);
  const table = await refitGnn(data, { seed: options.seed, ...options.gnn }, epochs, {
    checkpointDir: join(outDir, 'gnn', 'refit-checkpoint'),
    onProgress: (info) =>
      onProgress({
        stage: 'gnn',
        done: info.epoch * info.stepsPerEpoch + info.step,
        total: info.epochs * info.stepsPerEpoch,
        note: `refit epoch ${info.epoch + 1}/${info.epochs} loss ${info.loss.toFixed(4)}`,
      }),
  });
  mkdirSync(join(outDir, 'gnn', 'refit'), { recursive: true });
  writeTable(file, table);
  record.refit = {
    epochs,
    seconds: (performance.now() - started) / 1000,
    events: split.trainLog.length + split.validLog.length,
  };
  manifest.tables[GNN_REFIT_TABLE] = [split.numItems, options.gnn?.dim ?? 64];
  save();
  return table;
}
