import type { TrainingData } from '../../core/eval/model.ts';
import { userItemsOf } from '../../core/interactions.ts';
import { AliasSampler, type Random } from '../../core/random.ts';
import { hardOf, type NeighborTable } from '../graph/index.ts';
import type { TrainBatch } from './network.ts';

/**
 * Where positive pairs come from: co-engagements (b within the next `window` positions of a in one user's
 * training sequence; repeats of one item skipped), and the catalog's boards where it has them (two distinct
 * pins of one board).
 */
export interface PairPool {
  a: Int32Array;
  b: Int32Array;
  boards: Int32Array[];
  /** Draws a board with probability ∝ its size; undefined without boards. */
  boardSampler?: AliasSampler;
}

export function buildPairPool(data: TrainingData, window: number): PairPool {
  const a: number[] = [];
  const b: number[] = [];
  for (let u = 0; u < data.numUsers; u++) {
    const items = userItemsOf(data.train, u);
    for (let i = 0; i < items.length; i++) {
      const to = Math.min(items.length, i + window + 1);
      for (let j = i + 1; j < to; j++) {
        if (items[j] === items[i]) continue;
        a.push(items[i]);
        b.push(items[j]);
      }
    }
  }
  const boards: Int32Array[] = [];
  for (const board of data.catalog?.boards?.items ?? []) {
    const members = [...new Set(Array.from(board).filter((i) => i >= 0 && i < data.numItems))];
    if (members.length >= 2) boards.push(Int32Array.from(members));
  }
  const boardSampler = boards.length > 0 ? new AliasSampler(boards.map((board) => board.length)) : undefined;
  return { a: Int32Array.from(a), b: Int32Array.from(b), boards, boardSampler };
}

/** Pairs an epoch is sized by: the co-engagements, or the board memberships where there are none. */
export function pairCount(pool: PairPool): number {
  if (pool.a.length > 0) return pool.a.length;
  let members = 0;
  for (const board of pool.boards) members += board.length;
  return members;
}

/**
 * One batch: `batchSize` pairs, each from a board with probability `boardShare` (where there are boards)
 * or else a uniformly drawn co-engagement, in a random direction; then `hardPerAnchor` hard negatives per
 * anchor, drawn without replacement from the anchor's hard list (−1 where it is shorter); then
 * `sharedNegatives` items drawn uniformly (with replacement), negatives of the whole batch.
 */
export function sampleBatch(
  pool: PairPool,
  table: NeighborTable,
  random: Random,
  options: { batchSize: number; hardPerAnchor: number; boardShare: number; sharedNegatives: number },
): TrainBatch {
  const { batchSize, hardPerAnchor, boardShare, sharedNegatives } = options;
  const anchors = new Int32Array(batchSize);
  const positives = new Int32Array(batchSize);
  const coEngaged = pool.a.length;
  if (coEngaged === 0 && !pool.boardSampler) throw new Error('gnn: no positive pairs to train on');
  for (let n = 0; n < batchSize; n++) {
    let x: number;
    let y: number;
    if (pool.boardSampler && (coEngaged === 0 || random.next() < boardShare)) {
      const board = pool.boards[pool.boardSampler.sample(random)];
      const i = random.int(board.length);
      const j = (i + 1 + random.int(board.length - 1)) % board.length;
      x = board[i];
      y = board[j];
    } else {
      const p = random.int(coEngaged);
      x = pool.a[p];
      y = pool.b[p];
    }
    if (random.next() < 0.5) [x, y] = [y, x];
    anchors[n] = x;
    positives[n] = y;
  }
  const hard = new Int32Array(batchSize * hardPerAnchor).fill(-1);
  if (hardPerAnchor > 0) {
    for (let n = 0; n < batchSize; n++) {
      const list = hardOf(table, anchors[n]);
      const count = Math.min(hardPerAnchor, list.length);
      // Partial Fisher–Yates over positions, without copying the list.
      const positions = Array.from({ length: list.length }, (_, i) => i);
      for (let h = 0; h < count; h++) {
        const j = h + random.int(list.length - h);
        [positions[h], positions[j]] = [positions[j], positions[h]];
        hard[n * hardPerAnchor + h] = list[positions[h]];
      }
    }
  }
  const shared = new Int32Array(sharedNegatives);
  for (let n = 0; n < sharedNegatives; n++) shared[n] = random.int(table.numItems);
  return { anchors, positives, hard, hardPerAnchor, shared };
}
