import { parentPort, workerData } from 'node:worker_threads';
import { PinBoardGraph } from './bipartite.ts';
import { type NeighborChunk, type WalkOptions, walkRange } from './random-walk.ts';

/** What `sampleNeighbors` hands each worker: the graph on SharedArrayBuffers, read without a copy. */
export interface WalkWorkerData {
  numPins: number;
  numBoards: number;
  pinOffsets: Int32Array;
  pinBoards: Int32Array;
  boardOffsets: Int32Array;
  boardPins: Int32Array;
  options: WalkOptions;
  seed: number;
}

/** main → worker: a range of items to walk from. */
export type WalkTask = { from: number; to: number };

/** worker → main. */
export type WalkReply =
  | { type: 'ready' }
  | { type: 'progress'; done: number }
  | ({ type: 'chunk' } & NeighborChunk);

const port = parentPort;
if (port === null) throw new Error('walk-worker must run as a worker thread');
const data = workerData as WalkWorkerData;
const graph = new PinBoardGraph(
  data.numPins,
  data.numBoards,
  data.pinOffsets,
  data.pinBoards,
  data.boardOffsets,
  data.boardPins,
);

port.on('message', (task: WalkTask) => {
  let reported = 0;
  const chunk = walkRange(graph, data.options, data.seed, task.from, task.to, (done) => {
    port.postMessage({ type: 'progress', done: done - reported } satisfies WalkReply);
    reported = done;
  });
  const reply: WalkReply = { type: 'chunk', ...chunk };
  port.postMessage(reply, [
    chunk.neighborCounts.buffer,
    chunk.neighbors.buffer,
    chunk.weights.buffer,
    chunk.hardCounts.buffer,
    chunk.hard.buffer,
  ] as ArrayBuffer[]);
});
port.postMessage({ type: 'ready' } satisfies WalkReply);
