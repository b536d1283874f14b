import type { TrainingData } from '../../core/eval/model.ts';
import { groupRowsByUser, POSITIVE_CODES, userItemsOf } from '../../core/interactions.ts';

export interface BoardOptions {
  /** Most items one derived board holds; a full board starts a new one. */
  window: number;
  /** A gap between consecutive positives longer than this starts a new board (clock-time data only). */
  gapMs: number;
}

export const BOARD_DEFAULTS: BoardOptions = { window: 8, gapMs: 3_600_000 };

/**
 * Boards for data sets that have none. PinSage's graph joins pins through the boards people saved them to;
 * a board is a person's curated, topical group. Without boards, the closest stand-in is a session: the
 * items one user engaged with in a short stretch of time. So each user's positives (`data.train`, oldest
 * first) are cut into boards at time gaps longer than `gapMs` (only where the data set has clock times;
 * an item's time is its first positive event in `data.log`) and whenever a board already holds `window`
 * items. An item repeated within one user's sequence is kept once, at its first occurrence (its time is
 * that of the first occurrence anyway). Boards with fewer than 2 items join nothing and are dropped.
 */
export function deriveBoards(data: TrainingData, options: Partial<BoardOptions> = {}): Int32Array[] {
  const { window, gapMs } = { ...BOARD_DEFAULTS, ...options };
  if (!(Number.isInteger(window) && window >= 2))
    throw new RangeError(`window must be an integer >= 2, got ${window}`);
  if (!(gapMs > 0)) throw new RangeError(`gapMs must be > 0, got ${gapMs}`);

  const useTime = data.hasTimestamps;
  const rowsByUser = useTime ? groupRowsByUser(data.log, data.numUsers) : undefined;
  // Per-user scratch, reset through the lists of touched items: O(items of the user) per user.
  const firstTime = new Float64Array(data.numItems).fill(Number.NaN);
  const seen = new Uint8Array(data.numItems);
  const boards: Int32Array[] = [];
  const current: number[] = [];
  const flush = () => {
    if (current.length >= 2) boards.push(Int32Array.from(current));
    current.length = 0;
  };

  for (let u = 0; u < data.numUsers; u++) {
    const items = userItemsOf(data.train, u);
    if (items.length < 2) continue;
    if (rowsByUser) {
      const { offsets, rows } = rowsByUser;
      for (let k = offsets[u]; k < offsets[u + 1]; k++) {
        const r = rows[k];
        const item = data.log.item[r];
        // Rows come sorted by time, so the first positive row seen for an item is its first positive.
        if (POSITIVE_CODES.has(data.log.action[r]) && Number.isNaN(firstTime[item]))
          firstTime[item] = data.log.ts[r];
      }
    }
    let previousTime = Number.NaN;
    for (const item of items) {
      if (item < 0 || item >= data.numItems || seen[item]) continue;
      seen[item] = 1;
      const time = firstTime[item];
      // An item with no positive row in the log (or no clock) never splits on time.
      if (current.length > 0 && time - previousTime > gapMs) flush();
      if (current.length === window) flush();
      current.push(item);
      if (!Number.isNaN(time)) previousTime = time;
    }
    flush();
    for (const item of items) {
      if (item >= 0 && item < data.numItems) {
        seen[item] = 0;
        firstTime[item] = Number.NaN;
      }
    }
    if (rowsByUser) {
      const { offsets, rows } = rowsByUser;
      for (let k = offsets[u]; k < offsets[u + 1]; k++) firstTime[data.log.item[rows[k]]] = Number.NaN;
    }
  }
  return boards;
}

/**
 * The boards the pin–board graph is built from: the catalog's own boards where the data set has them
 * (members outside `[0, numItems)` and repeats dropped, boards left with fewer than 2 items dropped),
 * derived ones (`deriveBoards`) otherwise.
 */
export function boardsFor(data: TrainingData, options: Partial<BoardOptions> = {}): Int32Array[] {
  const given = data.catalog?.boards?.items;
  if (given === undefined) return deriveBoards(data, options);
  const seen = new Uint8Array(data.numItems);
  const boards: Int32Array[] = [];
  for (const board of given) {
    const kept: number[] = [];
    for (const item of board) {
      if (Number.isInteger(item) && item >= 0 && item < data.numItems && !seen[item]) {
        seen[item] = 1;
        kept.push(item);
      }
    }
    for (const item of kept) seen[item] = 0;
    if (kept.length >= 2) boards.push(Int32Array.from(kept));
  }
  return boards;
}
