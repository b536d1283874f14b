import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.ts';
import { SparseEmbedding } from '../../src/train/tf/sparse-embedding.ts';

// The dense reference runs on tfjs's cpu backend, which has the gradient of gather (UnsortedSegmentSum).
beforeAll(async () => {
  await tf.setBackend('cpu');
});

function denseReference(
  initial: Float32Array,
  rows: number,
  dim: number,
  batches: Int32Array[],
  upstream: Float32Array[],
  lr: number,
) {
  const table = tf.variable(tf.tensor2d(initial, [rows, dim]));
  const optimizer = tf.train.adam(lr);
  batches.forEach((indices, step) => {
    optimizer.minimize(() => {
      const gathered = tf.gather(table, tf.tensor1d(indices, 'int32'));
      // loss = sum(gathered * upstream) makes d loss / d gathered = upstream.
      return tf.sum(tf.mul(gathered, tf.tensor2d(upstream[step], [indices.length, dim])));
    });
  });
  const out = table.dataSync().slice();
  table.dispose();
  optimizer.dispose();
  return out;
}

describe('SparseEmbedding (lazy Adam on gathered rows)', () => {
  const rows = 6;
  const dim = 4;
  const lr = 0.05;

  it('equals dense tf.train.adam when every row is touched every step, duplicates summed like gather', () => {
    const random = new Random(3);
    const sparse = new SparseEmbedding(rows, dim, { learningRate: lr }).initNormal(random, 0.5);
    const initial = sparse.values.slice();
    const batches: Int32Array[] = [];
    const upstream: Float32Array[] = [];
    for (let step = 0; step < 5; step++) {
      // All rows, some twice: the dense gradient of gather sums duplicates.
      const indices = Int32Array.from([0, 1, 2, 3, 4, 5, step % rows, (step * 2) % rows]);
      const g = new Float32Array(indices.length * dim);
      for (let i = 0; i < g.length; i++) g[i] = random.normal();
      batches.push(indices);
      upstream.push(g);
      sparse.applyGradients(indices, g);
    }
    const dense = denseReference(initial, rows, dim, batches, upstream, lr);
    for (let i = 0; i < dense.length; i++) expect(sparse.values[i]).toBeCloseTo(dense[i], 5);
  });

  it('leaves untouched rows and their moments exactly as they were', () => {
    const sparse = new SparseEmbedding(rows, dim, { learningRate: lr }).initNormal(new Random(4), 1);
    const before = sparse.values.slice();
    sparse.applyGradients(Int32Array.from([1, 4]), new Float32Array(2 * dim).fill(0.3));
    for (const row of [0, 2, 3, 5]) {
      expect(Array.from(sparse.values.subarray(row * dim, (row + 1) * dim))).toEqual(
        Array.from(before.subarray(row * dim, (row + 1) * dim)),
      );
      expect(Array.from(sparse.m.subarray(row * dim, (row + 1) * dim))).toEqual([0, 0, 0, 0]);
    }
    // First Adam step moves each touched weight by lr * sign(g) (bias-corrected m / sqrt(v) = 1).
    for (const row of [1, 4]) {
      for (let d = 0; d < dim; d++)
        expect(sparse.values[row * dim + d]).toBeCloseTo(before[row * dim + d] - lr, 6);
    }
  });

  it('gathers rows in order and rejects out-of-range rows', () => {
    const sparse = new SparseEmbedding(3, 2);
    sparse.values.set([1, 2, 3, 4, 5, 6]);
    expect(Array.from(sparse.gather([2, 0, 2]))).toEqual([5, 6, 1, 2, 5, 6]);
    expect(() => sparse.gather([3])).toThrow(/out of range/);
    expect(() => sparse.applyGradients([0], new Float32Array(3))).toThrow(/expected 2 gradient values/);
  });
});
