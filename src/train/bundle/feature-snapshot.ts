import { join } from 'node:path';
import type { Dataset } from '../../core/dataset.ts';
import { filterLog } from '../../core/interactions.ts';
import { loadPinnerFormer, PinnerFormerRecommender } from '../pinnerformer/index.ts';
import {
  type RunManifest,
  readTable,
  type StageProgress,
  type TrainRunOptions,
  trainGlobalModels,
} from '../pipeline.ts';
import type { FeatureSnapshot } from './edge-models.ts';

/** What the snapshot may set apart from the served run (the rest — seed, positives, features — it copies). */
export type SnapshotTraining = Partial<Pick<TrainRunOptions, 'timeBudgetSeconds' | 'gnn' | 'pinnerformer'>>;

export const SNAPSHOT_DIR = 'ranker-snapshot';

/**
 * The global models (graph, GNN, PinnerFormer) trained, as the served run was, on the events before
 * `before` only — the ranker's training window start — in `<checkpointDir>/ranker-snapshot/` (resumable
 * like any run). Their features are out of sample on the ranker's training window, as the served models'
 * are on validation and test.
 */
export async function trainFeatureSnapshot(
  dataset: Dataset,
  run: RunManifest,
  checkpointDir: string,
  before: number,
  options: SnapshotTraining,
  onProgress: (p: StageProgress) => void = () => {},
): Promise<FeatureSnapshot> {
  const { log } = dataset;
  const earlier: Dataset = { ...dataset, log: filterLog(log, (r) => log.ts[r] < before) };
  const dir = join(checkpointDir, SNAPSHOT_DIR);
  await trainGlobalModels(
    earlier,
    run.data,
    dir,
    {
      protocol: 'temporal',
      positives: run.positives,
      seed: run.seed,
      gnnFeatures: run.gnnFeatures,
      timeBudgetSeconds: options.timeBudgetSeconds ?? Number.POSITIVE_INFINITY,
      ...(options.gnn ? { gnn: options.gnn } : {}),
      ...(options.pinnerformer ? { pinnerformer: options.pinnerformer } : {}),
    },
    onProgress,
  );
  const { model, hasTimestamps } = await loadPinnerFormer(join(dir, 'pinnerformer', 'model'));
  return {
    teacher: PinnerFormerRecommender.fromModel(model, hasTimestamps),
    items: readTable(join(dir, 'pinnerformer', 'items.f32')),
  };
}
