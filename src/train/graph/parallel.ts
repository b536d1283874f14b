import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { PinBoardGraph } from './bipartite.ts';
import {
  mergeChunks,
  type NeighborChunk,
  type NeighborTable,
  resolveWalkOptions,
  sampleNeighborsSync,
  type WalkOptions,
} from './random-walk.ts';
import type { WalkReply, WalkTask, WalkWorkerData } from './walk-worker.ts';

export interface SampleOptions extends Partial<WalkOptions> {
  seed: number;
  /** Worker threads; 1 runs in this thread. Default: min(2, available cores). */
  threads?: number;
  onProgress?(done: number, total: number): void;
}

/** Ranges handed out per thread: small enough to balance uneven ranges, large enough to keep messages rare. */
const CHUNKS_PER_THREAD = 8;

/**
 * Importance neighbours and hard negatives of every item (see random-walk.ts), with the items spread over
 * worker threads. Each item's walks are seeded from (seed, item) alone, so the table is bit-identical
 * whatever the number of threads. The graph goes to the workers on SharedArrayBuffers (copied there once
 * unless it already lives on them); the results come back as transferred buffers.
 */
export async function sampleNeighbors(graph: PinBoardGraph, options: SampleOptions): Promise<NeighborTable> {
  const resolved = resolveWalkOptions(options);
  const numItems = graph.numPins;
  const threads = Math.max(1, Math.min(options.threads ?? Math.min(2, availableParallelism()), numItems));
  if (!Number.isInteger(threads)) throw new RangeError(`threads must be an integer, got ${options.threads}`);
  if (threads === 1)
    return sampleNeighborsSync(graph, { ...resolved, seed: options.seed, onProgress: options.onProgress });

  const shared = graph.toShared();
  const data: WalkWorkerData = {
    numPins: shared.numPins,
    numBoards: shared.numBoards,
    pinOffsets: shared.pinOffsets,
    pinBoards: shared.pinBoards,
    boardOffsets: shared.boardOffsets,
    boardPins: shared.boardPins,
    options: resolved,
    seed: options.seed,
  };
  const tasks: WalkTask[] = [];
  const step = Math.max(1, Math.ceil(numItems / (threads * CHUNKS_PER_THREAD)));
  for (let from = 0; from < numItems; from += step) tasks.push({ from, to: Math.min(numItems, from + step) });

  const chunks: NeighborChunk[] = [];
  const workers: Worker[] = [];
  let done = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let finished = 0;
      let failed = false;
      const fail = (error: unknown) => {
        if (failed) return;
        failed = true;
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      for (let t = 0; t < threads; t++) {
        const worker = new Worker(new URL('./walk-worker.mjs', import.meta.url), { workerData: data });
        workers.push(worker);
        const dispatch = () => {
          if (next < tasks.length) worker.postMessage(tasks[next++]);
        };
        worker.on('message', (reply: WalkReply) => {
          if (reply.type === 'ready') dispatch();
          else if (reply.type === 'progress') {
            done += reply.done;
            options.onProgress?.(done, numItems);
          } else {
            const { type: _, ...chunk } = reply;
            chunks.push(chunk);
            if (++finished === tasks.length) resolve();
            else dispatch();
          }
        });
        worker.on('error', fail);
        worker.on('exit', (code) => {
          if (finished < tasks.length)
            fail(new Error(`graph walk worker exited with code ${code} before finishing`));
        });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return mergeChunks(numItems, resolved.topT, chunks);
}
