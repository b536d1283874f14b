import type { DecodedItemTable } from '../../src/core/bundle/index.ts';

/**
 * Eight pins in three dimensions, p0 … p7, small enough to reason about by hand: p0 and p1 close together,
 * p5 opposite p0, p7 opposite p2, p6 between everything. Shared by the on-device learning, request-gate and
 * second-device tests, whose expectations are written against these rows.
 */
export const PIN_ROWS: readonly (readonly number[])[] = [
  [1, 0, 0],
  [0.8, 0.2, 0],
  [0, 1, 0],
  [0, 0.7, 0.7],
  [0, 0, 1],
  [-1, 0, 0],
  [0.5, 0.5, 0.5],
  [0, -1, 0],
];

/** The first `count` pins of PIN_ROWS as an f32 item table. */
export function pinTable(count = PIN_ROWS.length): DecodedItemTable {
  if (!Number.isInteger(count) || count < 1 || count > PIN_ROWS.length)
    throw new Error(`pinTable: count must be 1 … ${PIN_ROWS.length}, got ${count}`);
  return { dtype: 'f32', count, dim: 3, values: Float32Array.from(PIN_ROWS.slice(0, count).flat()) };
}
