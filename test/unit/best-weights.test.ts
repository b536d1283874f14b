import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.ts';
import { initTraining, tf } from '../../src/train/tf/backend.ts';
import { BestWeights } from '../../src/train/tf/best-weights.ts';
import { DenseParams } from '../../src/train/tf/dense-params.ts';

beforeAll(async () => {
  await initTraining();
});

describe('BestWeights', () => {
  it('stops after `patience` epochs without a better score and restores the best epoch', () => {
    const params = new DenseParams(new Random(1), 0.1);
    const w = params.add('w', [2], 'zeros');
    const best = new BestWeights(params, 2);
    w.assign(tf.tensor1d([1, 2]));
    expect(best.update(0, 0.5)).toBe(false);
    w.assign(tf.tensor1d([3, 4]));
    expect(best.update(1, 0.4)).toBe(false);
    w.assign(tf.tensor1d([5, 6]));
    expect(best.update(2, 0.45)).toBe(true);
    best.restore();
    expect(Array.from(w.dataSync())).toEqual([1, 2]);
    expect([best.epoch, best.score]).toEqual([0, 0.5]);
  });
});
