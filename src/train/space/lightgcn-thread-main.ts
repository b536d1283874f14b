import { parentPort, workerData } from 'node:worker_threads';
import type { Dataset } from '../../core/dataset.ts';
import { buildSplit } from '../../core/eval/split.ts';
import { IdIndex } from '../../core/ids.ts';
import type { RunManifest } from '../pipeline.ts';
import type { LightGcnThreadInput, LightGcnThreadMessage } from './lightgcn-thread.ts';
import { trainLightGcnStage } from './stages.ts';

const post = (message: LightGcnThreadMessage) => parentPort?.postMessage(message);

const input = workerData as LightGcnThreadInput;
const dataset: Dataset = {
  ...input.dataset,
  users: IdIndex.from(input.dataset.users),
  items: IdIndex.from(input.dataset.items),
};
const split = buildSplit(dataset, { protocol: input.options.protocol, positives: input.options.positives });
// The thread's own record of the stage; the main thread merges it into run.json.
const manifest = { stages: {}, tables: {} } as RunManifest;
try {
  await trainLightGcnStage(
    split,
    input.outDir,
    input.options,
    manifest,
    () => {},
    (progress) => post({ type: 'progress', progress }),
  );
  post({ type: 'done', stage: manifest.stages.lightgcn, tables: manifest.tables });
} catch (error) {
  post({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
