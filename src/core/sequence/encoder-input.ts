import { ACTION_TYPES, TIME_FEATURES, timeFeatures } from './time-features.ts';

/** A user's recent non-impression actions, oldest first (what the compact encoder reads). */
export interface ActionWindow {
  items: ArrayLike<number>;
  actions: ArrayLike<number>;
  /** Milliseconds, or NaN where the data set has no clock. */
  ts: ArrayLike<number>;
  /** The window is [start, end) of the arrays; defaults to the whole of them. */
  start?: number;
  end?: number;
}

/** Writes item `item`'s embedding (dim floats) into `out` at `offset`. */
export type RowWriter = (item: number, out: Float32Array, offset: number) => void;

export function tableRows(table: Float32Array, dim: number): RowWriter {
  return (item, out, offset) => out.set(table.subarray(item * dim, (item + 1) * dim), offset);
}

/**
 * The compact encoder's four inputs for a batch, right-aligned (left padding), so the newest action is
 * always the last column — the only position whose output the encoder computes.
 *   items   [size, length, dim]  the item-table rows of the actions
 *   actions [size, length, 5]    one-hot action codes
 *   time    [size, length, TIME_FEATURES]  PinnerFormer's causal time features
 *   mask    [size, length]       1 on real tokens, 0 on padding
 */
export interface EncoderInput {
  size: number;
  length: number;
  dim: number;
  items: Float32Array;
  actions: Float32Array;
  time: Float32Array;
  mask: Float32Array;
}

/** Builds the encoder input; windows longer than `length` keep their newest `length` actions. */
export function encoderInput(
  windows: ActionWindow[],
  length: number,
  dim: number,
  rowOf: RowWriter,
  /** Where the (zeroed) arrays come from: a request path passes `slabF32` (src/core/typed-slab.ts). */
  allocate: (length: number) => Float32Array = (n) => new Float32Array(n),
): EncoderInput {
  const size = windows.length;
  const items = allocate(size * length * dim);
  const actions = allocate(size * length * ACTION_TYPES);
  const time = allocate(size * length * TIME_FEATURES);
  const mask = allocate(size * length);
  windows.forEach((w, b) => {
    const end = w.end ?? w.items.length;
    const start = Math.max(w.start ?? 0, end - length);
    const n = end - start;
    const pad = length - n;
    for (let k = 0; k < n; k++) {
      const cell = b * length + pad + k;
      rowOf(w.items[start + k], items, cell * dim);
      actions[cell * ACTION_TYPES + w.actions[start + k]] = 1;
      mask[cell] = 1;
    }
    if (n > 0) timeFeatures(w.ts, start, end, time, (b * length + pad) * TIME_FEATURES);
  });
  return { size, length, dim, items, actions, time, mask };
}
