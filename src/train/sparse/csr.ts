import type { UserItems } from '../../core/interactions.ts';

/** A dense row-major matrix of `width` columns, in either precision. */
export type DenseRows = Float32Array | Float64Array;

/**
 * Compressed sparse rows: the entries of row r are `indices/values[offsets[r] .. offsets[r+1])`, columns
 * ascending. The graph models multiply it with dense row-major tables, never densify it.
 */
export interface CsrMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly offsets: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/** The binary users × items matrix of a training table (each item once per user, as the splits keep it). */
export function interactionMatrix(train: UserItems, numItems: number): CsrMatrix {
  const rows = train.offsets.length - 1;
  const offsets = train.offsets.slice();
  const indices = new Int32Array(train.items.length);
  for (let u = 0; u < rows; u++) {
    const sorted = train.items.slice(train.offsets[u], train.offsets[u + 1]).sort();
    for (let k = 1; k < sorted.length; k++) {
      if (sorted[k] === sorted[k - 1]) throw new Error(`user ${u} lists item ${sorted[k]} twice`);
    }
    indices.set(sorted, offsets[u]);
  }
  for (const item of indices) {
    if (item < 0 || item >= numItems) throw new RangeError(`item ${item} outside 0..${numItems - 1}`);
  }
  return { rows, cols: numItems, offsets, indices, values: new Float32Array(indices.length).fill(1) };
}

/** Row and column sums (for a binary matrix: user and item degrees). */
export function degrees(m: CsrMatrix): { rows: Float64Array; cols: Float64Array } {
  const rows = new Float64Array(m.rows);
  const cols = new Float64Array(m.cols);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.offsets[r]; k < m.offsets[r + 1]; k++) {
      rows[r] += m.values[k];
      cols[m.indices[k]] += m.values[k];
    }
  }
  return { rows, cols };
}

/** 1/sqrt(d), and 0 where d is 0 (an isolated node contributes nothing instead of dividing by zero). */
export function inverseSqrt(d: Float64Array): Float64Array<ArrayBuffer> {
  return Float64Array.from(d, (x) => (x > 0 ? 1 / Math.sqrt(x) : 0));
}

/** diag(left) · m · diag(right), as a new matrix with the same pattern. */
export function scaled(m: CsrMatrix, left: Float64Array, right: Float64Array): CsrMatrix {
  const values = new Float32Array(m.values.length);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.offsets[r]; k < m.offsets[r + 1]; k++) {
      values[k] = left[r] * m.values[k] * right[m.indices[k]];
    }
  }
  return { ...m, values };
}

export function transpose(m: CsrMatrix): CsrMatrix {
  const offsets = new Int32Array(m.cols + 1);
  for (const c of m.indices) offsets[c + 1]++;
  for (let c = 0; c < m.cols; c++) offsets[c + 1] += offsets[c];
  const cursor = offsets.slice(0, m.cols);
  const indices = new Int32Array(m.indices.length);
  const values = new Float32Array(m.indices.length);
  // Rows ascend in the outer loop, so each transposed row's columns come out ascending.
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.offsets[r]; k < m.offsets[r + 1]; k++) {
      const at = cursor[m.indices[k]]++;
      indices[at] = r;
      values[at] = m.values[k];
    }
  }
  return { rows: m.cols, cols: m.rows, offsets, indices, values };
}

/**
 * out = m · x for a dense row-major x of `width` columns (m.cols rows); out has m.rows rows. Each output
 * row is summed in a fixed order, so the result is bit-identical run to run.
 */
export function multiplyDense(m: CsrMatrix, x: DenseRows, width: number, out: DenseRows): void {
  if (x.length !== m.cols * width) throw new RangeError(`x holds ${x.length} values, not ${m.cols}×${width}`);
  if (out.length !== m.rows * width)
    throw new RangeError(`out holds ${out.length} values, not ${m.rows}×${width}`);
  const { offsets, indices, values, rows } = m;
  // Unrolled by four (about twice as fast in V8); each output still sums its terms in column order.
  const unrolled = width - (width % 4);
  out.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    const end = offsets[r + 1];
    for (let k = offsets[r]; k < end; k++) {
      const w = values[k];
      const c = indices[k] * width;
      let d = 0;
      for (; d < unrolled; d += 4) {
        out[o + d] += w * x[c + d];
        out[o + d + 1] += w * x[c + d + 1];
        out[o + d + 2] += w * x[c + d + 2];
        out[o + d + 3] += w * x[c + d + 3];
      }
      for (; d < width; d++) out[o + d] += w * x[c + d];
    }
  }
}
