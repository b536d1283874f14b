import type { DecodedItemTable } from '../bundle/index.ts';
import { topK } from '../topk.ts';
import { slabF32, slabU32 } from '../typed-slab.ts';

/**
 * The reference scan every retrieval backend (WebGPU, WASM, plain TypeScript) must reproduce exactly:
 * the same scores bit for bit, hence the same top-k, ties broken by the lower index.
 *
 * Arithmetic, per dtype:
 * - f32, f16 (f16 rows widened to f32 exactly): s = ((q0·x0 + q1·x1) + q2·x2) + …, every product and sum
 *   rounded to f32, in dimension order.
 * - i8: the query is multiplied by the table's column scales, then quantized symmetrically to int8
 *   (`quantizeQuery`); s = f32(f32(Σ qq_d·x_d) · rowScale) · queryScale, the integer sum exact.
 */

/** Bit i of `exclude` set (word i >> 5, bit i & 31) = row i is never returned. */
export type ExclusionBitset = Uint32Array;

export interface TopKResult {
  indices: Int32Array;
  scores: Float32Array;
}

export interface QuantizedQuery {
  values: Int8Array;
  scale: number;
}

export function exclusionBitset(count: number, rows: Iterable<number>): ExclusionBitset {
  const bits = slabU32(Math.ceil(count / 32));
  for (const r of rows) if (r >= 0 && r < count) bits[r >>> 5] |= 1 << (r & 31);
  return bits;
}

export function isExcluded(bits: ExclusionBitset | undefined, row: number): boolean {
  return bits !== undefined && (bits[row >>> 5] & (1 << (row & 31))) !== 0;
}

/** The i8 scan's query: q ⊙ columnScales, symmetric int8 with one scale (0 for a zero query). */
export function quantizeQuery(query: Float32Array, columnScales: Float32Array): QuantizedQuery {
  const dim = query.length;
  const scaled = slabF32(dim);
  let max = 0;
  for (let d = 0; d < dim; d++) {
    scaled[d] = query[d] * columnScales[d];
    max = Math.max(max, Math.abs(scaled[d]));
  }
  const scale = Math.fround(max / 127);
  const values = new Int8Array(dim);
  if (scale > 0)
    for (let d = 0; d < dim; d++) {
      const v = scaled[d] / scale;
      values[d] = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
    }
  return { values, scale };
}

/** Scores of every row under the reference arithmetic; excluded rows score -Infinity. */
export function referenceScores(
  table: DecodedItemTable,
  query: Float32Array,
  exclude?: ExclusionBitset,
): Float32Array {
  const { count, dim } = table;
  if (query.length !== dim) throw new RangeError(`query has ${query.length} dimensions, the table ${dim}`);
  const out = new Float32Array(count);
  const f = Math.fround;
  if (table.dtype === 'i8') {
    const values = table.values as Int8Array;
    const scales = table.scales!;
    const q = quantizeQuery(query, table.columnScales ?? new Float32Array(dim).fill(1));
    for (let r = 0; r < count; r++) {
      let dot = 0;
      const base = r * dim;
      for (let d = 0; d < dim; d++) dot += q.values[d] * values[base + d];
      out[r] = f(f(dot * scales[r]) * q.scale);
    }
  } else {
    const rows =
      table.dtype === 'f32' ? (table.values as Float32Array) : widenF16(table.values as Uint16Array);
    for (let r = 0; r < count; r++) {
      let s = 0;
      const base = r * dim;
      for (let d = 0; d < dim; d++) s = f(s + f(query[d] * rows[base + d]));
      out[r] = s;
    }
  }
  if (exclude) for (let r = 0; r < count; r++) if (isExcluded(exclude, r)) out[r] = Number.NEGATIVE_INFINITY;
  return out;
}

/** The reference top-k: indices best first (ties by lower index) and their scores. */
export function referenceTopK(
  table: DecodedItemTable,
  query: Float32Array,
  k: number,
  exclude?: ExclusionBitset,
): TopKResult {
  const scores = referenceScores(table, query, exclude);
  const indices = topK(scores, k);
  return { indices, scores: Float32Array.from(indices, (i) => scores[i]) };
}

function widenF16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]);
  return out;
}

/** IEEE binary16 → number, exact (every half is a float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
