import { Worker } from 'node:worker_threads';
import type { Dataset } from '../../core/dataset.ts';
import type { RunManifest, StageProgress, StageRecord, TrainRunOptions } from '../pipeline.ts';

/** What the thread needs: the data set with its id indexes as arrays (a class does not cross threads). */
export interface LightGcnThreadInput {
  dataset: Omit<Dataset, 'users' | 'items'> & { users: string[]; items: string[] };
  outDir: string;
  options: TrainRunOptions;
}

export interface LightGcnThreadResult {
  stage: StageRecord | undefined;
  tables: RunManifest['tables'];
}

export type LightGcnThreadMessage =
  | { type: 'progress'; progress: StageProgress }
  | ({ type: 'done' } & LightGcnThreadResult)
  | { type: 'error'; message: string };

/**
 * Trains the LightGCN stage (stages.ts `trainLightGcnStage`, unchanged) on a worker thread, so that it runs
 * on the second core while the main thread trains the GNN and PinnerFormer. Nothing is shared: the thread
 * builds the same split from the same data and writes its own files, so the tables are byte-identical to a
 * serial run's. `result` resolves with the stage's run.json record (undefined when the files were already
 * there); `stop()` ends the thread early (the main thread failed), so that it does not keep the process alive.
 */
export function trainLightGcnOnThread(
  dataset: Dataset,
  outDir: string,
  options: TrainRunOptions,
  onProgress: (progress: StageProgress) => void,
): { result: Promise<LightGcnThreadResult>; stop: () => Promise<void> } {
  const input: LightGcnThreadInput = {
    dataset: { ...dataset, users: [...dataset.users.toArray()], items: [...dataset.items.toArray()] },
    outDir,
    options,
  };
  const worker = new Worker(new URL('./lightgcn-thread.mjs', import.meta.url), { workerData: input });
  let settled = false;
  const result = new Promise<LightGcnThreadResult>((resolve, reject) => {
    worker.on('message', (message: LightGcnThreadMessage) => {
      if (message.type === 'progress') onProgress(message.progress);
      else if (message.type === 'done') {
        settled = true;
        resolve({ stage: message.stage, tables: message.tables });
      } else {
        settled = true;
        reject(new Error(`LightGCN's training thread failed: ${message.message}`));
      }
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!settled)
        reject(new Error(`LightGCN's training thread exited with code ${code} before it finished`));
    });
  });
  // The caller awaits `result` only after its own stages; until then a failure must not count as unhandled.
  result.catch(() => {});
  return {
    result,
    stop: async () => {
      settled = true;
      await worker.terminate();
    },
  };
}
