import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { evaluate, trainingData } from '../../src/core/eval/harness.ts';
import type { EvalSplit } from '../../src/core/eval/split.ts';
import { InteractionLogBuilder, userItemsFromLists } from '../../src/core/interactions.ts';
import { Random } from '../../src/core/random.ts';
import {
  bprLossAndGradient,
  LightGcnRecommender,
  normalizedAdjacency,
  Propagation,
} from '../../src/train/lightgcn/index.ts';
import { foldInUser } from '../../src/train/lightgcn/propagation.ts';
import { chooseRetrievalModel, LightGcnSpace } from '../../src/train/space/index.ts';

// Three users, four items: u0 = {i0, i1}, u1 = {i1, i2, i3}, u2 = {i3}.
// Degrees: users 2, 3, 1; items 1, 2, 1, 2. Node order: u0 u1 u2 i0 i1 i2 i3.
const TRAIN = [[0, 1], [1, 2, 3], [3]];
const s = (a: number, b: number) => 1 / Math.sqrt(a * b);
// Â by hand: Â[u][i] = Â[i][u] = 1/sqrt(d_u d_i) for each edge.
const A_HAT = [
  [0, 0, 0, s(2, 1), s(2, 2), 0, 0],
  [0, 0, 0, 0, s(3, 2), s(3, 1), s(3, 2)],
  [0, 0, 0, 0, 0, 0, s(1, 2)],
  [s(2, 1), 0, 0, 0, 0, 0, 0],
  [s(2, 2), s(3, 2), 0, 0, 0, 0, 0],
  [0, s(3, 1), 0, 0, 0, 0, 0],
  [0, s(3, 2), s(1, 2), 0, 0, 0, 0],
];

function dense(adjacency: ReturnType<typeof normalizedAdjacency>): number[][] {
  const out = Array.from({ length: adjacency.rows }, () => new Array<number>(adjacency.cols).fill(0));
  for (let r = 0; r < adjacency.rows; r++)
    for (let k = adjacency.offsets[r]; k < adjacency.offsets[r + 1]; k++)
      out[r][adjacency.indices[k]] = adjacency.values[k];
  return out;
}

describe('LightGCN propagation', () => {
  it('builds the symmetric-normalised adjacency of a 3-user, 4-item graph', () => {
    const adjacency = normalizedAdjacency(userItemsFromLists(TRAIN), 4);
    const got = dense(adjacency);
    for (let r = 0; r < 7; r++) for (let c = 0; c < 7; c++) expect(got[r][c]).toBeCloseTo(A_HAT[r][c], 6);
  });

  it('averages layers 0..K of one-dimensional embeddings exactly as computed by hand', () => {
    // E⁰ = (1, 2, 3 | 4, 5, 6, 7) for (u0 u1 u2 | i0 i1 i2 i3), dim 1.
    const e0 = Float32Array.from([1, 2, 3, 4, 5, 6, 7]);
    const r2 = Math.SQRT1_2;
    const r3 = 1 / Math.sqrt(3);
    const r6 = 1 / Math.sqrt(6);
    // E¹ = Â E⁰, row by row:
    const e1 = [
      4 * r2 + 5 / 2, // u0: i0/sqrt(2·1) + i1/sqrt(2·2)
      5 * r6 + 6 * r3 + 7 * r6, // u1: i1/sqrt(6) + i2/sqrt(3) + i3/sqrt(6)
      7 * r2, // u2: i3/sqrt(2)
      1 * r2, // i0: u0/sqrt(2)
      1 / 2 + 2 * r6, // i1: u0/2 + u1/sqrt(6)
      2 * r3, // i2: u1/sqrt(3)
      2 * r6 + 3 * r2, // i3: u1/sqrt(6) + u2/sqrt(2)
    ];
    // E² = Â E¹:
    const e2 = [
      e1[3] * r2 + e1[4] / 2,
      e1[4] * r6 + e1[5] * r3 + e1[6] * r6,
      e1[6] * r2,
      e1[0] * r2,
      e1[0] / 2 + e1[1] * r6,
      e1[1] * r3,
      e1[1] * r6 + e1[2] * r2,
    ];
    const expected = Array.from(e0, (x, n) => (x + e1[n] + e2[n]) / 3);
    const propagation = new Propagation(normalizedAdjacency(userItemsFromLists(TRAIN), 4), 1, 2);
    const out = new Float32Array(7);
    propagation.run(e0, out);
    for (let n = 0; n < 7; n++) expect(out[n]).toBeCloseTo(expected[n], 5);
  });

  it('propagates each embedding column independently (dim 2 = two dim-1 runs)', () => {
    const adjacency = normalizedAdjacency(userItemsFromLists(TRAIN), 4);
    const a = Float32Array.from([1, -2, 0.5, 3, 0, 1, -1]);
    const b = Float32Array.from([0, 1, 2, -1, 4, 0.25, 2]);
    const both = new Float32Array(14);
    for (let n = 0; n < 7; n++) {
      both[2 * n] = a[n];
      both[2 * n + 1] = b[n];
    }
    const outA = new Float32Array(7);
    const outB = new Float32Array(7);
    const outBoth = new Float32Array(14);
    new Propagation(adjacency, 1, 3).run(a, outA);
    new Propagation(adjacency, 1, 3).run(b, outB);
    new Propagation(adjacency, 2, 3).run(both, outBoth);
    for (let n = 0; n < 7; n++) {
      expect(outBoth[2 * n]).toBe(outA[n]);
      expect(outBoth[2 * n + 1]).toBe(outB[n]);
    }
  });
});

describe('LightGCN fold-in (a user outside the graph)', () => {
  it('equals K propagations for a user whose layer-0 row is zero: u1 = {i1, i2, i3}, K = 2 and 3', () => {
    const adjacency = normalizedAdjacency(userItemsFromLists(TRAIN), 4);
    const random = new Random(5);
    for (const layers of [2, 3]) {
      const dim = 3;
      const e0 = Float32Array.from({ length: 7 * dim }, () => random.normal());
      e0.fill(0, 1 * dim, 2 * dim); // u1's own row
      const propagation = new Propagation(adjacency, dim, layers);
      const final = new Float32Array(7 * dim);
      propagation.run(e0, final);
      const table = new Float32Array(4 * dim);
      propagation.foldIn(e0, 3, table);
      const folded = new Float32Array(dim);
      foldInUser(table, dim, [1, 2, 3, 3], folded); // a repeat counts once, as the graph's binary edge does
      for (let d = 0; d < dim; d++) expect(folded[d]).toBeCloseTo(final[1 * dim + d], 5);
    }
  });

  it('chooses the retrieval model with the higher validation score, PinnerFormer on a tie', () => {
    expect(chooseRetrievalModel({ pinnerformer: 0.2, lightgcn: 0.25 })).toBe('lightgcn');
    expect(chooseRetrievalModel({ pinnerformer: 0.3, lightgcn: 0.25 })).toBe('pinnerformer');
    expect(chooseRetrievalModel({ pinnerformer: 0.25, lightgcn: 0.25 })).toBe('pinnerformer');
    expect(chooseRetrievalModel({ lightgcn: 0.1 })).toBe('lightgcn');
    expect(() => chooseRetrievalModel({})).toThrow(/no retrieval model/);
  });

  it('LightGcnSpace embeds the positive items of a sequence at unit length, ignoring hides and order', () => {
    const dim = 2;
    const foldIn = Float32Array.from([1, 0, 0, 1, 2, 2, -1, 3]);
    const space = new LightGcnSpace(new Float32Array(8), foldIn, dim);
    const seq = (items: number[], positive: number[]) => ({
      items: Int32Array.from(items),
      actions: new Uint8Array(items.length),
      ts: new Float64Array(items.length).fill(Number.NaN),
      positive: Uint8Array.from(positive),
    });
    const out = space.embedSequences([seq([0, 2, 3], [1, 1, 0]), seq([2, 0], [1, 1]), seq([3], [0])]);
    // (i0 + i2)/sqrt(2) = (3, 2)/sqrt(2), then to unit length: (3, 2)/sqrt(13).
    const r13 = Math.sqrt(13);
    expect(out[0]).toBeCloseTo(3 / r13, 6);
    expect(out[1]).toBeCloseTo(2 / r13, 6);
    expect(Array.from(out.subarray(2, 4))).toEqual(Array.from(out.subarray(0, 2)));
    expect(Array.from(out.subarray(4, 6))).toEqual([0, 0]);
  });
});

describe('LightGCN gradient', () => {
  it('carries the BPR gradient back through K sparse products: matches central finite differences', () => {
    const dim = 2;
    const propagation = new Propagation(normalizedAdjacency(userItemsFromLists(TRAIN), 4), dim, 3);
    const random = new Random(11);
    const weights = Float32Array.from({ length: 7 * dim }, () => random.normal());
    // Triples (user, own item, other item); user 1 appears twice.
    const batch = {
      users: Int32Array.from([0, 1, 2, 1]),
      positives: Int32Array.from([1, 2, 3, 3]),
      negatives: Int32Array.from([2, 0, 0, 0]),
    };
    const scratch = { final: new Float32Array(7 * dim), gradFinal: new Float32Array(7 * dim) };
    const grad = new Float32Array(7 * dim);
    const l2 = 0.05;
    bprLossAndGradient(propagation, weights, batch, 3, l2, scratch, grad);
    const ignored = new Float32Array(7 * dim);
    const h = 1e-2;
    for (let p = 0; p < weights.length; p++) {
      const at = (delta: number) => {
        const moved = weights.slice();
        moved[p] += delta;
        return bprLossAndGradient(propagation, moved, batch, 3, l2, scratch, ignored);
      };
      const numeric = (at(h) - at(-h)) / (2 * h);
      expect(grad[p]).toBeCloseTo(numeric, 3);
    }
    // Every node lies within 3 hops of the batch, so no layer-0 row is left without a gradient.
    for (let node = 0; node < 7; node++)
      expect(Math.abs(grad[node * dim]) + Math.abs(grad[node * dim + 1])).toBeGreaterThan(0);
  });
});

/** Two taste groups: users 0..19 like items 0..9, users 20..39 like items 10..19; test = one held-out item. */
function twoGroupSplit(): EvalSplit {
  const random = new Random(7);
  const train: number[][] = [];
  const valid: number[][] = [];
  const test: number[][] = [];
  for (let u = 0; u < 40; u++) {
    const base = u < 20 ? 0 : 10;
    const items = Array.from({ length: 10 }, (_, i) => base + i);
    random.shuffle(items);
    train.push(items.slice(0, 6));
    valid.push([items[6]]);
    test.push([items[7]]);
  }
  const log = new InteractionLogBuilder();
  train.forEach((items, u) => {
    for (const [t, item] of items.entries()) log.push(u, item, 1, t);
  });
  return {
    protocol: 'full',
    numUsers: 40,
    numItems: 20,
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: userItemsFromLists(test),
    trainLog: log.build(),
    validLog: new InteractionLogBuilder().build(),
    hasTimestamps: false,
    description: 'two taste groups',
  };
}

async function fitTwoGroups(seed: number): Promise<{ model: LightGcnRecommender; split: EvalSplit }> {
  const split = twoGroupSplit();
  const model = new LightGcnRecommender({
    dim: 8,
    batchSize: 64,
    learningRate: 0.01,
    maxEpochs: 40,
    validateEvery: 10,
    seed,
  });
  const validate = () => evaluate(model, split, 'valid', { ks: [5] }).metrics['Recall@5'];
  await model.fit(trainingData(split), { validate });
  return { model, split };
}

describe('LightGCN recommender', () => {
  it('learns the two taste groups: held-out items of the own group rank above the other group', async () => {
    const { model, split } = await fitTwoGroups(3);
    const all = Int32Array.from({ length: 20 }, (_, i) => i);
    const out = new Float32Array(20);
    model.score(0, new Int32Array(0), all, out);
    const own = Math.min(...out.slice(0, 10));
    const other = Math.max(...out.slice(10));
    expect(own).toBeGreaterThan(other);
    const result = evaluate(model, split, 'test', { ks: [5] });
    // 4 unseen own-group items among 14 candidates: a random ranker's Recall@5 is about 0.36.
    expect(result.metrics['Recall@5']).toBeGreaterThan(0.9);
    expect(model.describe().bestEpoch).toBeGreaterThan(0);
  });

  it('is deterministic: two fits with one seed give the same bytes, another seed different ones', async () => {
    const hash = (table: Float32Array) =>
      createHash('sha256')
        .update(new Uint8Array(table.buffer, table.byteOffset, table.byteLength))
        .digest('hex');
    const a = (await fitTwoGroups(5)).model;
    const b = (await fitTwoGroups(5)).model;
    const c = (await fitTwoGroups(6)).model;
    expect(hash(a.itemTable())).toBe(hash(b.itemTable()));
    expect(hash(a.userTable())).toBe(hash(b.userTable()));
    expect(hash(a.itemTable())).not.toBe(hash(c.itemTable()));
  });

  it('names the bad option', () => {
    expect(() => new LightGcnRecommender({ dim: 0 })).toThrow(/dim/);
    expect(() => new LightGcnRecommender({ learningRate: -1 })).toThrow(/learningRate/);
  });
});
