import { parentPort, workerData } from 'node:worker_threads';
import type { Dataset } from '../core/dataset.ts';
import { buildSplit } from '../core/eval/split.ts';
import { IdIndex } from '../core/ids.ts';
import { trainGnnRefitStage } from './gnn-stage.ts';
import type { RunManifest, StageProgress } from './pipeline.ts';
import { trainLightGcnStage } from './space/stages.ts';
import type { StageThreadInput, StageThreadMessage } from './stage-thread.ts';

const post = (message: StageThreadMessage) => parentPort?.postMessage(message);

const input = workerData as StageThreadInput;
const dataset: Dataset = {
  ...input.dataset,
  users: IdIndex.from(input.dataset.users),
  items: IdIndex.from(input.dataset.items),
};
const split = buildSplit(dataset, { protocol: input.options.protocol, positives: input.options.positives });
// The thread's own copy of the records; the main thread merges what the stage added into run.json.
const manifest = { stages: input.stages, tables: {} } as RunManifest;
const onProgress = (progress: StageProgress) => post({ type: 'progress', progress });
const train = input.stage === 'lightgcn' ? trainLightGcnStage : trainGnnRefitStage;
try {
  await train(split, input.outDir, input.options, manifest, () => {}, onProgress);
  post({ type: 'done', stages: manifest.stages, tables: manifest.tables });
} catch (error) {
  post({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
