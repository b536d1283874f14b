/**
 * Tables, queries and the exact comparison shared by the WebGPU retrieval browser tests (the merge pipeline,
 * and the radix pipeline in both select modes).
 */
import { expect } from 'vitest';
import type { DecodedItemTable, ItemDtype } from '../../src/core/bundle/index.ts';
import { encodeF16, quantizeTableI8 } from '../../src/core/quantize/index.ts';
import { Random } from '../../src/core/random.ts';
import { exclusionBitset, referenceTopK, type TopKResult } from '../../src/core/retrieval/index.ts';

export const DIM = 64;
export const KS = [1, 10, 200];

export interface Variant {
  name: string;
  dtype: ItemDtype;
  forceManualInt8?: boolean;
}
export const VARIANTS: Variant[] = [
  { name: 'f32', dtype: 'f32' },
  { name: 'f16', dtype: 'f16' },
  { name: 'i8-dot4', dtype: 'i8' },
  { name: 'i8-manual', dtype: 'i8', forceManualInt8: true },
];
export const hasPackedDot = navigator.gpu.wgslLanguageFeatures.has('packed_4x8_integer_dot_product');

export function uniformValues(count: number, dim: number, seed: number): Float32Array {
  const rng = new Random(seed);
  const values = new Float32Array(count * dim);
  for (let i = 0; i < values.length; i++) values[i] = rng.next() * 2 - 1;
  return values;
}

export function normalQuery(dim: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: dim }, () => rng.normal());
}

/** 40 distinct rows repeated at random: every score is shared by ~count/40 rows spread over all workgroups. */
export function pooledValues(count: number, dim: number): Float32Array {
  const pool = uniformValues(40, dim, 5);
  const rng = new Random(6);
  const values = new Float32Array(count * dim);
  for (let r = 0; r < count; r++) {
    const p = rng.int(40);
    values.set(pool.subarray(p * dim, (p + 1) * dim), r * dim);
  }
  return values;
}

/** One row `count` times: every score ties. */
export function equalValues(count: number, dim: number): Float32Array {
  const row = uniformValues(1, dim, 3);
  const values = new Float32Array(count * dim);
  for (let r = 0; r < count; r++) values.set(row, r * dim);
  return values;
}

export type Tables = Record<ItemDtype, DecodedItemTable>;

export function tablesOf(values: Float32Array, count: number, dim: number): Tables {
  const i8 = quantizeTableI8(values, dim);
  return {
    f32: { dtype: 'f32', count, dim, values },
    f16: { dtype: 'f16', count, dim, values: encodeF16(values) },
    i8: { dtype: 'i8', count, dim, values: i8.values, scales: i8.scales, columnScales: i8.columnScales },
  };
}

export function expectSame(gpu: TopKResult, ref: TopKResult, label: string): void {
  expect(gpu.indices.length, `${label}: length`).toBe(ref.indices.length);
  const gpuBits = new Uint32Array(gpu.scores.buffer, gpu.scores.byteOffset, gpu.scores.length);
  const refBits = new Uint32Array(ref.scores.buffer, ref.scores.byteOffset, ref.scores.length);
  for (let i = 0; i < ref.indices.length; i++) {
    if (gpu.indices[i] !== ref.indices[i] || gpuBits[i] !== refBits[i]) {
      const show = (r: TopKResult, j: number) => `#${j}: row ${r.indices[j]} score ${r.scores[j]}`;
      expect.fail(`${label}: first difference at ${show(gpu, i)} (gpu) vs ${show(ref, i)} (reference)`);
    }
  }
}

/** `best` of the reference's best rows plus 10% at random: exclusion changes the answer. */
export function exclusionsFor(
  table: DecodedItemTable,
  query: Float32Array,
  best: number,
  seed: number,
): Uint32Array {
  const rng = new Random(seed);
  const picked = new Set<number>(referenceTopK(table, query, best).indices);
  for (let r = 0; r < table.count; r++) if (rng.next() < 0.1) picked.add(r);
  return exclusionBitset(table.count, picked);
}
