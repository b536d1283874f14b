/**
 * The `js` backend: one fused pass over the item table that scores each row with the reference's
 * arithmetic (src/core/retrieval/reference.ts) and keeps the k best in a bounded heap, so no score array
 * is allocated. A row enters only when its score beats the heap's worst; rows arrive in increasing
 * order, so an equal score never displaces an entry (ties go to the lower index, as in the reference).
 */
import type { DecodedItemTable } from '../../../core/bundle/index.ts';
import { decodeF16 } from '../../../core/quantize/index.ts';
import { type ExclusionBitset, quantizeQuery, type TopKResult } from '../../../core/retrieval/index.ts';
import { slabF32, slabF64, slabI32 } from '../../../core/typed-slab.ts';

/**
 * The k best (score, row) pairs seen, the worst at the root of a min-heap. `threshold` is the score a
 * new row must beat: -Infinity until the heap is full (so NaN and -Infinity never enter), then the root's.
 */
export class TopKHeap {
  readonly scores: Float64Array;
  readonly indices: Int32Array;
  size = 0;
  threshold = Number.NEGATIVE_INFINITY;

  constructor(readonly k: number) {
    this.scores = new Float64Array(Math.max(0, k));
    this.indices = new Int32Array(Math.max(0, k));
  }

  /** Adds a row whose score is > threshold and whose index is above every index pushed so far. */
  push(score: number, index: number): void {
    const { scores, indices } = this;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!worse(score, index, scores[parent], indices[parent])) break;
        scores[i] = scores[parent];
        indices[i] = indices[parent];
        i = parent;
      }
      scores[i] = score;
      indices[i] = index;
      if (this.size === this.k) this.threshold = scores[0];
      return;
    }
    // Replace the root and sift the new entry down.
    const size = this.size;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && worse(scores[right], indices[right], scores[child], indices[child])) child = right;
      if (!worse(scores[child], indices[child], score, index)) break;
      scores[i] = scores[child];
      indices[i] = indices[child];
      i = child;
    }
    scores[i] = score;
    indices[i] = index;
    this.threshold = scores[0];
  }

  /** The entries best first (higher score, then lower index). */
  result(): TopKResult {
    return sortEntries(this.scores.subarray(0, this.size), this.indices.subarray(0, this.size), this.k);
  }
}

/** (sa, ia) ranks below (sb, ib): a lower score, or an equal score and a higher index. */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}

/** Rows below this fit beside a 32-bit score key in a float64's 53 bits (sortEntries' fast path). */
const KEY_ROWS = 2 ** 21;
const keyF32 = new Float32Array(1);
const keyU32 = new Uint32Array(keyF32.buffer);

/**
 * Sorts (score, index) pairs best first (equal scores: lower index first) and keeps the first k: the merge
 * of per-thread results, on every query. Each pair becomes one float64 key, (order-flipped score bits) · 2^21
 * + index, exact below 2^53, sorted by the typed array's native numeric sort: about a tenth of the cost
 * of a comparator sort. Indices ≥ 2^21, or a NaN, take the comparator sort.
 */
export function sortEntries(scores: ArrayLike<number>, indices: ArrayLike<number>, k: number): TopKResult {
  const m = scores.length;
  const keys = slabF64(m);
  let zeros: Map<number, number> | undefined;
  for (let i = 0; i < m; i++) {
    const s = scores[i];
    const row = indices[i];
    if (!(row >= 0 && row < KEY_ROWS) || Number.isNaN(s)) return sortEntriesBy(scores, indices, k);
    // -0 and +0 are equal scores (ties by index, as in the reference): one key; the original is kept.
    if (s === 0) {
      zeros ??= new Map();
      zeros.set(row, s);
    }
    keyF32[0] = s === 0 ? 0 : s;
    const bits = keyU32[0];
    // Larger score → larger u: positives get the sign bit set, negatives are inverted.
    const u = bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
    keys[i] = (0xffffffff - u) * KEY_ROWS + row;
  }
  keys.sort();
  const n = Math.min(m, Math.max(0, k));
  const out = { indices: slabI32(n), scores: slabF32(n) };
  for (let i = 0; i < n; i++) {
    const key = keys[i];
    const row = key % KEY_ROWS;
    const u = 0xffffffff - (key - row) / KEY_ROWS;
    keyU32[0] = u & 0x80000000 ? (u & 0x7fffffff) >>> 0 : ~u >>> 0;
    out.indices[i] = row;
    out.scores[i] = keyF32[0] === 0 && zeros ? zeros.get(row)! : keyF32[0];
  }
  return out;
}

/** sortEntries with a comparator: any index. */
function sortEntriesBy(scores: ArrayLike<number>, indices: ArrayLike<number>, k: number): TopKResult {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => (scores[a] === scores[b] ? indices[a] - indices[b] : scores[a] > scores[b] ? -1 : 1));
  const n = Math.min(order.length, Math.max(0, k));
  const out = { indices: slabI32(n), scores: slabF32(n) };
  for (let i = 0; i < n; i++) {
    out.indices[i] = indices[order[i]];
    out.scores[i] = scores[order[i]];
  }
  return out;
}

let halfTable: Float32Array | undefined;

/** float32 value of every half-precision bit pattern (256 KiB, built once). */
function halves(): Float32Array {
  if (!halfTable) halfTable = decodeF16(Uint16Array.from({ length: 65536 }, (_, i) => i));
  return halfTable;
}

/** Scans rows [start, end) of `table` into `heap` (rows in increasing order across calls). */
export function scanRows(
  table: DecodedItemTable,
  query: Float32Array,
  start: number,
  end: number,
  heap: TopKHeap,
  exclude?: ExclusionBitset,
): void {
  const { dim } = table;
  if (heap.k <= 0) return;
  const f = Math.fround;
  if (table.dtype === 'i8') {
    const values = table.values as Int8Array;
    const scales = table.scales!;
    const q = quantizeQuery(query, table.columnScales ?? new Float32Array(dim).fill(1));
    const qv = Int32Array.from(q.values);
    const qs = q.scale;
    for (let r = start, base = start * dim; r < end; r++, base += dim) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot = (dot + qv[d] * values[base + d]) | 0;
      const s = f(f(dot * scales[r]) * qs);
      if (s > heap.threshold && !excluded(exclude, r)) heap.push(s, r);
    }
  } else if (table.dtype === 'f32') {
    const rows = table.values as Float32Array;
    for (let r = start, base = start * dim; r < end; r++, base += dim) {
      let s = 0;
      for (let d = 0; d < dim; d++) s = f(s + f(query[d] * rows[base + d]));
      if (s > heap.threshold && !excluded(exclude, r)) heap.push(s, r);
    }
  } else {
    const bits = table.values as Uint16Array;
    const half = halves();
    for (let r = start, base = start * dim; r < end; r++, base += dim) {
      let s = 0;
      for (let d = 0; d < dim; d++) s = f(s + f(query[d] * half[bits[base + d]]));
      if (s > heap.threshold && !excluded(exclude, r)) heap.push(s, r);
    }
  }
}

function excluded(bits: ExclusionBitset | undefined, row: number): boolean {
  return bits !== undefined && (row >>> 5 < bits.length ? (bits[row >>> 5] >>> (row & 31)) & 1 : 0) === 1;
}

/** Exact top-k of `table` for `query`, equal to `referenceTopK` (indices and scores). */
export function scanTopK(
  table: DecodedItemTable,
  query: Float32Array,
  k: number,
  exclude?: ExclusionBitset,
): TopKResult {
  if (query.length !== table.dim)
    throw new RangeError(`query has ${query.length} dimensions, the table ${table.dim}`);
  const heap = new TopKHeap(Math.max(0, Math.min(Math.floor(k), table.count)));
  scanRows(table, query, 0, table.count, heap, exclude);
  return heap.result();
}
