import { join } from 'node:path';
import type { Dataset } from '../../core/dataset.ts';
import { filterLog } from '../../core/interactions.ts';
import {
  type RunManifest,
  type StageProgress,
  type TrainModel,
  type TrainRunOptions,
  trainGlobalModels,
} from '../pipeline.ts';
import { loadUserSpace } from '../space/index.ts';
import type { FeatureSnapshot } from './edge-models.ts';

/** What the snapshot may set apart from the served run (the rest — seed, positives, features — it copies). */
export type SnapshotTraining = Partial<
  Pick<TrainRunOptions, 'timeBudgetSeconds' | 'gnn' | 'pinnerformer' | 'lightgcn'>
>;

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
  const space = run.retrieval?.model ?? 'pinnerformer';
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
      lightgcn: { ...lightGcnEpochs(run), ...options.lightgcn },
      // The snapshot trains the served run's space only: its features must live where the served ones do.
      models: snapshotModels(run),
      retrieval: space,
    },
    onProgress,
  );
  const teacher = await loadUserSpace(dir, space);
  return { teacher, items: teacher.items };
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

/** The served run's models, less the retrieval candidate it did not choose (runs before --models: theirs). */
function snapshotModels(run: RunManifest): TrainModel[] {
  const served = run.models ?? ['gnn', 'pinnerformer'];
  const space = run.retrieval?.model ?? 'pinnerformer';
  // The blend needs both of its spaces (and PinnerFormer's GNN features, where the served run had them).
  if (space === 'blend') return served;
  const other = space === 'pinnerformer' ? 'lightgcn' : 'pinnerformer';
  return served.filter((m) => m !== other && !(m === 'gnn' && space === 'lightgcn'));
}

/** LightGCN for at most the served run's kept epochs (its early stopping may end it sooner). */
function lightGcnEpochs(run: RunManifest): { maxEpochs?: number } {
  const best = run.stages.lightgcn?.bestEpoch;
  return best !== undefined ? { maxEpochs: best + 1 } : {};
}
