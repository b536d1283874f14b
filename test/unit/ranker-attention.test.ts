import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.ts';
import { CONTEXT_DIM } from '../../src/core/ranking/index.ts';
import { ACTION_TYPES, TIME_FEATURES } from '../../src/core/sequence/index.ts';
import { targetAttention } from '../../src/train/ranker/attention.ts';
import { RankerModel, STUDENT_SHAPE } from '../../src/train/ranker/model.ts';
import { initTraining, tf } from '../../src/train/tf/backend.ts';

beforeAll(async () => {
  await initTraining();
});

describe('target attention of the early-fusion ranker', () => {
  it('equals a hand-computed softmax over the real tokens, and is zero for a row with none', () => {
    // Row 0: q = [1, 0]; keys [1,0] (padding), [0,1], [2,0]; scores over the real tokens: 0 and 2/√2 = √2;
    // weights 1/(1+e^√2) = 0.195570 and e^√2/(1+e^√2) = 0.804430; values [1,0] and [0,1].
    // The padding token's value [5,5] must get weight exactly 0.
    // Row 1: no real token, zero values (as encoderInput pads): output 0.
    const out = tf.tidy(() =>
      targetAttention(
        tf.tensor2d([1, 0, 3, -2], [2, 2]),
        tf.tensor3d([1, 0, 0, 1, 2, 0, 1, 1, 1, 1, 1, 1], [2, 3, 2]),
        tf.tensor3d([5, 5, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0], [2, 3, 2]),
        tf.tensor2d([0, 1, 1, 0, 0, 0], [2, 3]),
      ).arraySync(),
    );
    expect(out[0][0]).toBeCloseTo(0.19557, 5);
    expect(out[0][1]).toBeCloseTo(0.80443, 5);
    expect(out[1]).toEqual([0, 0]);
  });

  it('makes the early-fusion ranker depend on the sequence, and only on its real tokens', () => {
    const dim = 4;
    const length = 3;
    const random = new Random(3);
    const model = new RankerModel(
      { embeddingDim: dim, ...STUDENT_SHAPE, sequence: { length, width: 4 } },
      random,
      1e-3,
    );
    const normals = (n: number) => Float32Array.from({ length: n }, () => random.normal());
    const mask = Float32Array.from([0, 1, 1]);
    const actions = new Float32Array(length * ACTION_TYPES);
    actions[1 * ACTION_TYPES + 1] = 1;
    actions[2 * ACTION_TYPES + 3] = 1;
    const items = normals(length * dim);
    items.fill(0, 0, dim);
    const base = {
      size: 1,
      userLong: normals(dim),
      userShort: normals(dim),
      item: normals(dim),
      context: normals(CONTEXT_DIM),
      sequence: { items, actions, time: new Float32Array(length * TIME_FEATURES), mask },
    };
    const p = model.predict(base);
    const changedReal = { ...base, sequence: { ...base.sequence, items: items.slice() } };
    changedReal.sequence.items[2 * dim] += 1;
    expect(Math.max(...model.predict(changedReal).map((v, h) => Math.abs(v - p[h])))).toBeGreaterThan(1e-6);
    const changedPadding = { ...base, sequence: { ...base.sequence, items: items.slice() } };
    changedPadding.sequence.items[0] = 7;
    expect(Array.from(model.predict(changedPadding))).toEqual(Array.from(p));
  });
});
