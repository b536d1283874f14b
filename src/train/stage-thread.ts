import { Worker } from 'node:worker_threads';
import type { Dataset } from '../core/dataset.ts';
import type { RunManifest, StageProgress, TrainRunOptions } from './pipeline.ts';

/**
 * The stages that can take the second core: LightGCN (shares nothing with the GNN and PinnerFormer) and,
 * with --refit, the GNN's refit (PinnerFormer's selection fit does not read it).
 */
export type ThreadStage = 'lightgcn' | 'gnn-refit';

/** What the thread needs: the data set with its id indexes as arrays (a class does not cross threads). */
export interface StageThreadInput {
  stage: ThreadStage;
  dataset: Omit<Dataset, 'users' | 'items'> & { users: string[]; items: string[] };
  outDir: string;
  options: TrainRunOptions;
  /** The run's stage records so far (the GNN refit reads its selection fit's best epoch from them). */
  stages: RunManifest['stages'];
}

export interface StageThreadResult {
  /** The thread's stage records: the stage's own where it trained (absent where its files were there). */
  stages: RunManifest['stages'];
  tables: RunManifest['tables'];
}

export type StageThreadMessage =
  | { type: 'progress'; progress: StageProgress }
  | ({ type: 'done' } & StageThreadResult)
  | { type: 'error'; message: string };

const THREAD_NAMES: Record<ThreadStage, string> = {
  lightgcn: "LightGCN's training thread",
  'gnn-refit': "The GNN refit's training thread",
};

/**
 * Trains one stage (its function in stages.ts or gnn-stage.ts, unchanged) on a worker thread, so that it
 * runs on the second core while the main thread trains the GNN and PinnerFormer. Nothing is shared: the
 * thread builds the same split from the same data and writes its own files, so the tables are
 * byte-identical to a serial run's. `result` resolves with the thread's stage records; `stop()` ends the
 * thread early (the main thread failed), so that it does not keep the process alive.
 */
export function trainStageOnThread(
  stage: ThreadStage,
  dataset: Dataset,
  outDir: string,
  options: TrainRunOptions,
  stages: RunManifest['stages'],
  onProgress: (progress: StageProgress) => void,
): { result: Promise<StageThreadResult>; stop: () => Promise<void> } {
  const input: StageThreadInput = {
    stage,
    dataset: { ...dataset, users: [...dataset.users.toArray()], items: [...dataset.items.toArray()] },
    outDir,
    options,
    stages,
  };
  const worker = new Worker(new URL('./stage-thread.mjs', import.meta.url), { workerData: input });
  const thread = THREAD_NAMES[stage];
  let settled = false;
  const result = new Promise<StageThreadResult>((resolve, reject) => {
    worker.on('message', (message: StageThreadMessage) => {
      if (message.type === 'progress') onProgress(message.progress);
      else if (message.type === 'done') {
        settled = true;
        resolve({ stages: message.stages, tables: message.tables });
      } else {
        settled = true;
        reject(new Error(`${thread} failed: ${message.message}`));
      }
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`${thread} exited with code ${code} before it finished`));
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
