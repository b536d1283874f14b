import type { Random } from '../../core/random.ts';

export interface SparseAdamOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export const DEFAULT_SPARSE_ADAM: SparseAdamOptions = {
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
};

/**
 * An embedding table kept outside the tfjs graph, as large-scale recommender trainers do: a step gathers the
 * batch's rows into an input tensor, takes the gradient with respect to that input, and this class applies
 * Adam to the touched rows only ("lazy" Adam: untouched rows keep their moments, bias correction uses the
 * global step). It also sidesteps tfjs-wasm's missing UnsortedSegmentSum, the gradient of gather.
 */
export class SparseEmbedding {
  readonly rows: number;
  readonly dim: number;
  readonly values: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  step = 0;
  private readonly options: SparseAdamOptions;

  constructor(rows: number, dim: number, options: Partial<SparseAdamOptions> = {}) {
    this.rows = rows;
    this.dim = dim;
    this.values = new Float32Array(rows * dim);
    this.m = new Float32Array(rows * dim);
    this.v = new Float32Array(rows * dim);
    this.options = { ...DEFAULT_SPARSE_ADAM, ...options };
  }

  /** Gaussian initialisation with the given standard deviation, from a seeded stream. */
  initNormal(random: Random, std: number): this {
    for (let i = 0; i < this.values.length; i++) this.values[i] = random.normal() * std;
    return this;
  }

  /** Copies rows `indices` into a new [indices.length × dim] array (row-major), ready for tf.tensor2d. */
  gather(indices: ArrayLike<number>): Float32Array {
    const out = new Float32Array(indices.length * this.dim);
    for (let n = 0; n < indices.length; n++) {
      const row = indices[n];
      if (row < 0 || row >= this.rows)
        throw new RangeError(`embedding row ${row} out of range [0, ${this.rows})`);
      out.set(this.values.subarray(row * this.dim, (row + 1) * this.dim), n * this.dim);
    }
    return out;
  }

  /**
   * One Adam step from the gradient of the gathered rows (`grads` is [indices.length × dim]); gradients of a
   * row gathered several times are summed first, exactly as the dense gradient of gather would be.
   */
  applyGradients(
    indices: ArrayLike<number>,
    grads: Float32Array,
    learningRate = this.options.learningRate,
  ): void {
    const { dim } = this;
    if (grads.length !== indices.length * dim) {
      throw new RangeError(`expected ${indices.length * dim} gradient values, got ${grads.length}`);
    }
    const summed = new Map<number, Float32Array>();
    for (let n = 0; n < indices.length; n++) {
      const row = indices[n];
      let acc = summed.get(row);
      if (!acc) {
        acc = new Float32Array(dim);
        summed.set(row, acc);
      }
      for (let d = 0; d < dim; d++) acc[d] += grads[n * dim + d];
    }
    this.step++;
    const { beta1, beta2, epsilon } = this.options;
    // tf.train.adam's formulation, so a table touched everywhere matches dense Adam exactly.
    const correction1 = 1 - beta1 ** this.step;
    const correction2 = 1 - beta2 ** this.step;
    for (const [row, g] of summed) {
      const base = row * dim;
      for (let d = 0; d < dim; d++) {
        const i = base + d;
        this.m[i] = beta1 * this.m[i] + (1 - beta1) * g[d];
        this.v[i] = beta2 * this.v[i] + (1 - beta2) * g[d] * g[d];
        this.values[i] -=
          (learningRate * (this.m[i] / correction1)) / (Math.sqrt(this.v[i] / correction2) + epsilon);
      }
    }
  }
}
