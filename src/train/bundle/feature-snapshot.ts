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
 * are on validation and test. Unless told otherwise, each model trains for as many epochs as the served
 * run's did (run.json), with no clock.
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
      gnn: { ...epochsOf(run, 'gnn', 'epochs'), ...options.gnn },
      pinnerformer: { ...epochsOf(run, 'pinnerformer', 'maxEpochs'), ...options.pinnerformer },
    },
    onProgress,
  );
  const { model, hasTimestamps } = await loadPinnerFormer(join(dir, 'pinnerformer', 'model'));
  return {
    teacher: PinnerFormerRecommender.fromModel(model, hasTimestamps),
    items: readTable(join(dir, 'pinnerformer', 'items.f32')),
  };
}

/** `{ [key]: epochs the served run's stage trained }`, or nothing when run.json does not say. */
function epochsOf<K extends string>(
  run: RunManifest,
  stage: 'gnn' | 'pinnerformer',
  key: K,
): Partial<Record<K, number>> {
  const epochs = run.stages[stage]?.epochs?.length;
  return epochs ? ({ [key]: epochs } as Partial<Record<K, number>>) : {};
}
