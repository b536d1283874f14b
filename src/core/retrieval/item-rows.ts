import type { DecodedItemTable } from '../bundle/index.ts';
import { slabF32 } from '../typed-slab.ts';
import { halfToFloat } from './reference.ts';

/**
 * Writes row `item` of any table dtype as float32 into `out` at `offset`: what the ranker and the encoder
 * read. Decoding a row at a time keeps an i8 table at a quarter of f32's memory (a decoded copy of a 1M-row
 * table would cost 256 MB).
 */
export function writeItemRow(table: DecodedItemTable, item: number, out: Float32Array, offset: number): void {
  const { dim } = table;
  const base = item * dim;
  if (table.dtype === 'f32') {
    out.set((table.values as Float32Array).subarray(base, base + dim), offset);
  } else if (table.dtype === 'f16') {
    const values = table.values as Uint16Array;
    for (let d = 0; d < dim; d++) out[offset + d] = halfToFloat(values[base + d]);
  } else {
    const values = table.values as Int8Array;
    const scale = table.scales![item];
    const columns = table.columnScales;
    for (let d = 0; d < dim; d++) out[offset + d] = values[base + d] * scale * (columns ? columns[d] : 1);
  }
}

export function itemRows(table: DecodedItemTable, items: ArrayLike<number>): Float32Array {
  const out = slabF32(items.length * table.dim);
  for (let i = 0; i < items.length; i++) writeItemRow(table, items[i], out, i * table.dim);
  return out;
}
