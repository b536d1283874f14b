// Item tables and queries for the CPU retrieval tests and benchmarks (Node and the browser alike).
import type { DecodedItemTable, ItemDtype } from '../../src/core/bundle/index.ts';
import { encodeF16 } from '../../src/core/quantize/index.ts';
import { Random } from '../../src/core/random.ts';
import type { TopKResult } from '../../src/core/retrieval/index.ts';

export interface TableOptions {
  /** Every `duplicateEvery`-th row copies an earlier row (equal scores: ties broken by index). */
  duplicateEvery?: number;
  seed?: number;
}

/**
 * A random table: f32/f16 values ~ N(0, 1); i8 values uniform in -127..127 (a few -128), row scales in
 * (0, 0.02], some zero rows (scale 0), and column scales around 1.
 */
export function makeTable(
  dtype: ItemDtype,
  count: number,
  dim: number,
  { duplicateEvery = 0, seed = 1 }: TableOptions = {},
): DecodedItemTable {
  const random = new Random(seed);
  const source = (r: number): number =>
    duplicateEvery > 0 && r > 0 && r % duplicateEvery === 0 ? random.int(r) : r;
  if (dtype === 'i8') {
    const values = new Int8Array(count * dim);
    const scales = new Float32Array(count);
    for (let r = 0; r < count; r++) {
      const from = source(r);
      if (from !== r) {
        values.copyWithin(r * dim, from * dim, (from + 1) * dim);
        scales[r] = scales[from];
        continue;
      }
      for (let d = 0; d < dim; d++)
        values[r * dim + d] = random.int(255) - 127 - (random.int(500) === 0 ? 1 : 0);
      scales[r] = r % 97 === 5 ? 0 : Math.fround((1 + random.int(1000)) / 50_000);
    }
    const columnScales = Float32Array.from({ length: dim }, () => 0.5 + random.next());
    return { dtype, count, dim, values, scales, columnScales };
  }
  const values = new Float32Array(count * dim);
  for (let r = 0; r < count; r++) {
    const from = source(r);
    if (from !== r) values.copyWithin(r * dim, from * dim, (from + 1) * dim);
    else for (let d = 0; d < dim; d++) values[r * dim + d] = random.normal();
  }
  return { dtype, count, dim, values: dtype === 'f32' ? values : encodeF16(values) };
}

export function makeQueries(count: number, dim: number, seed = 7): Float32Array[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: dim }, () => random.normal()));
}

/** Bitset with roughly `fraction` of `count` rows set, plus the first row. */
export function makeExclusions(count: number, fraction: number, seed = 3): Uint32Array {
  const random = new Random(seed);
  const bits = new Uint32Array(Math.ceil(count / 32));
  for (let r = 0; r < count; r++) if (r === 0 || random.next() < fraction) bits[r >>> 5] |= 1 << (r & 31);
  return bits;
}

/** First difference between two top-k results, or undefined when equal (indices and score bits). */
export function firstDifference(actual: TopKResult, expected: TopKResult): string | undefined {
  if (actual.indices.length !== expected.indices.length)
    return `length ${actual.indices.length}, expected ${expected.indices.length}`;
  for (let i = 0; i < expected.indices.length; i++) {
    const same =
      actual.indices[i] === expected.indices[i] &&
      Object.is(Math.fround(actual.scores[i]), Math.fround(expected.scores[i]));
    if (!same)
      return `at ${i}: row ${actual.indices[i]} score ${actual.scores[i]}, expected row ${expected.indices[i]} score ${expected.scores[i]}`;
  }
  return undefined;
}
