import { Random } from '../../core/random.ts';
import { type CsrMatrix, multiplyDense } from '../sparse/csr.ts';
import { symmetricEigen } from './symmetric-eigen.ts';

export interface RandomizedSvdOptions {
  /** Singular vectors kept. */
  rank: number;
  /** Extra random directions beyond `rank` (Halko et al.: 5–10 suffice; more sharpens the tail). */
  oversample: number;
  /** Power iterations with AᵀA, each followed by re-orthonormalisation. */
  powerIterations: number;
  seed: number;
}

/**
 * Orthonormalises the columns of a row-major rows × width table in place: modified Gram–Schmidt, twice
 * for stability, on a column-major copy so each dot product runs over contiguous memory. A column that
 * vanishes (rank deficiency) becomes zero.
 */
function orthonormalize(x: Float64Array, rows: number, width: number): void {
  const columns = Array.from({ length: width }, (_, j) => {
    const column = new Float64Array(rows);
    for (let r = 0; r < rows; r++) column[r] = x[r * width + j];
    return column;
  });
  for (let pass = 0; pass < 2; pass++) {
    for (let j = 0; j < width; j++) {
      const cj = columns[j];
      for (let i = 0; i < j; i++) {
        const ci = columns[i];
        let dot = 0;
        for (let r = 0; r < rows; r++) dot += ci[r] * cj[r];
        if (dot !== 0) for (let r = 0; r < rows; r++) cj[r] -= dot * ci[r];
      }
      let norm = 0;
      for (let r = 0; r < rows; r++) norm += cj[r] * cj[r];
      const inv = Math.sqrt(norm) > 1e-10 ? 1 / Math.sqrt(norm) : 0;
      for (let r = 0; r < rows; r++) cj[r] *= inv;
    }
  }
  for (let j = 0; j < width; j++) for (let r = 0; r < rows; r++) x[r * width + j] = columns[j][r];
}

/**
 * The top right singular vectors and values of a sparse matrix A (Halko, Martinsson & Tropp 2011,
 * Rayleigh–Ritz on AᵀA): a seeded Gaussian sketch of the column space of AᵀA, power iterations, then the
 * exact eigen-decomposition of the small projected matrix. Only products with A and Aᵀ touch the data.
 */
export function randomizedSvd(
  a: CsrMatrix,
  at: CsrMatrix,
  options: RandomizedSvdOptions,
): { vectors: Float64Array; values: Float64Array; rank: number } {
  const width = Math.min(options.rank + options.oversample, a.cols, a.rows);
  const rank = Math.min(options.rank, width);
  const random = new Random(options.seed);
  const q = new Float64Array(a.cols * width);
  for (let i = 0; i < q.length; i++) q[i] = random.normal();
  const inner = new Float64Array(a.rows * width);
  const applyGram = (x: Float64Array, out: Float64Array) => {
    multiplyDense(a, x, width, inner);
    multiplyDense(at, inner, width, out);
  };
  const next = new Float64Array(q.length);
  applyGram(q, next);
  q.set(next);
  orthonormalize(q, a.cols, width);
  for (let it = 0; it < options.powerIterations; it++) {
    applyGram(q, next);
    q.set(next);
    orthonormalize(q, a.cols, width);
  }
  // Projected Gram matrix C = (AQ)ᵀ(AQ), width × width.
  multiplyDense(a, q, width, inner);
  const c = new Float64Array(width * width);
  for (let r = 0; r < a.rows; r++) {
    const o = r * width;
    for (let i = 0; i < width; i++) {
      const x = inner[o + i];
      if (x === 0) continue;
      for (let j = i; j < width; j++) c[i * width + j] += x * inner[o + j];
    }
  }
  for (let i = 0; i < width; i++) for (let j = 0; j < i; j++) c[i * width + j] = c[j * width + i];
  const eigen = symmetricEigen(c, width);
  const vectors = new Float64Array(a.cols * rank);
  for (let r = 0; r < a.cols; r++) {
    for (let k = 0; k < rank; k++) {
      let s = 0;
      for (let j = 0; j < width; j++) s += q[r * width + j] * eigen.vectors[j * width + k];
      vectors[r * rank + k] = s;
    }
  }
  const values = new Float64Array(rank);
  for (let k = 0; k < rank; k++) values[k] = Math.sqrt(Math.max(0, eigen.values[k]));
  return { vectors, values, rank };
}
