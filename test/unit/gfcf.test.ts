import { describe, expect, it } from 'vitest';
import type { TrainingData } from '../../src/core/eval/model.ts';
import { InteractionLogBuilder, userItemsFromLists } from '../../src/core/interactions.ts';
import { GfcfRecommender, randomizedSvd, symmetricEigen } from '../../src/train/gfcf/index.ts';
import { degrees, interactionMatrix, inverseSqrt, scaled, transpose } from '../../src/train/sparse/csr.ts';

// 5 users × 6 items, rows linearly independent (so R̃R̃ᵀ is invertible), item 5 unseen in training.
const TRAIN = [[0, 1], [1, 2, 3], [0, 3, 4], [2], [0, 1, 4]];
const NUM_ITEMS = 6;

type Matrix = number[][];
const zeros = (r: number, c: number): Matrix => Array.from({ length: r }, () => new Array<number>(c).fill(0));
const T = (a: Matrix): Matrix => a[0].map((_, j) => a.map((row) => row[j]));
const mul = (a: Matrix, b: Matrix): Matrix =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, x, k) => s + x * b[k][j], 0)));

/** Gauss–Jordan inverse with partial pivoting: the dense reference's own linear algebra. */
function inverse(a: Matrix): Matrix {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    const pivot = m[c][c];
    for (let j = 0; j < 2 * n; j++) m[c][j] /= pivot;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r][c];
      for (let j = 0; j < 2 * n; j++) m[r][j] -= f * m[c][j];
    }
  }
  return m.map((row) => row.slice(n));
}

/** R̃ = D_u^{-1/2} R D_i^{-1/2}, written densely from the degrees. */
function denseNormalized(): { rt: Matrix; itemDegree: number[] } {
  const r = zeros(TRAIN.length, NUM_ITEMS);
  TRAIN.forEach((items, u) => {
    for (const i of items) r[u][i] = 1;
  });
  const du = r.map((row) => row.reduce((s, x) => s + x, 0));
  const di = r[0].map((_, i) => r.reduce((s, row) => s + row[i], 0));
  const rt = r.map((row, u) => row.map((x, i) => (x ? x / Math.sqrt(du[u] * di[i]) : 0)));
  return { rt, itemDegree: di };
}

function sparseNormalized() {
  const r = interactionMatrix(userItemsFromLists(TRAIN), NUM_ITEMS);
  const { rows, cols } = degrees(r);
  const a = scaled(r, inverseSqrt(rows), inverseSqrt(cols));
  return { a, at: transpose(a) };
}

function trainingData(): TrainingData {
  const log = new InteractionLogBuilder();
  TRAIN.forEach((items, u) => {
    for (const [t, item] of items.entries()) log.push(u, item, 1, t);
  });
  return {
    numUsers: TRAIN.length,
    numItems: NUM_ITEMS,
    train: userItemsFromLists(TRAIN),
    log: log.build(),
    hasTimestamps: false,
  };
}

describe('symmetricEigen', () => {
  it('recovers a known spectrum and its eigenvectors', () => {
    // A = Q diag(5, 2, -1, 0.5) Qᵀ with Q a Householder reflection I - 2wwᵀ/‖w‖².
    const w = [1, 2, -1, 3];
    const norm = w.reduce((s, x) => s + x * x, 0);
    const q = w.map((wi, i) => w.map((wj, j) => (i === j ? 1 : 0) - (2 * wi * wj) / norm));
    const lambda = [5, 2, -1, 0.5];
    const a = mul(
      mul(
        q,
        lambda.map((l, i) => lambda.map((_, j) => (i === j ? l : 0))),
      ),
      T(q),
    );
    const { values, vectors } = symmetricEigen(Float64Array.from(a.flat()), 4);
    expect(Array.from(values)).toEqual([5, 2, 0.5, -1].map((x) => expect.closeTo(x, 10)));
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < 4; i++) {
        let av = 0;
        for (let j = 0; j < 4; j++) av += a[i][j] * vectors[j * 4 + k];
        expect(av).toBeCloseTo(values[k] * vectors[i * 4 + k], 10);
      }
    }
  });
});

describe('randomizedSvd', () => {
  it('spans the whole row space when the rank covers it: V Vᵀ = R̃ᵀ (R̃R̃ᵀ)⁻¹ R̃', () => {
    const { a, at } = sparseNormalized();
    const { rt } = denseNormalized();
    const projector = mul(mul(T(rt), inverse(mul(rt, T(rt)))), rt);
    const { vectors, rank } = randomizedSvd(a, at, { rank: 5, oversample: 1, powerIterations: 2, seed: 3 });
    expect(rank).toBe(5);
    for (let i = 0; i < NUM_ITEMS; i++) {
      for (let j = 0; j < NUM_ITEMS; j++) {
        let vv = 0;
        for (let k = 0; k < rank; k++) vv += vectors[i * rank + k] * vectors[j * rank + k];
        expect(vv).toBeCloseTo(projector[i][j], 5);
      }
    }
  });

  it('finds the top singular values that dense power iteration with deflation finds', () => {
    const { a, at } = sparseNormalized();
    const { rt } = denseNormalized();
    let gram = mul(T(rt), rt);
    const reference: number[] = [];
    for (let k = 0; k < 2; k++) {
      let v = gram.map((_, i) => 1 + i / 10);
      let lambda = 0;
      for (let it = 0; it < 2000; it++) {
        const next = gram.map((row) => row.reduce((s, x, j) => s + x * v[j], 0));
        lambda = Math.sqrt(next.reduce((s, x) => s + x * x, 0));
        v = next.map((x) => x / lambda);
      }
      reference.push(Math.sqrt(lambda));
      gram = gram.map((row, i) => row.map((x, j) => x - lambda * v[i] * v[j]));
    }
    const { values } = randomizedSvd(a, at, { rank: 2, oversample: 2, powerIterations: 6, seed: 1 });
    expect(values[0]).toBeCloseTo(reference[0], 6);
    expect(values[1]).toBeCloseTo(reference[1], 6);
    // The largest singular value of a symmetric-normalised interaction matrix is 1.
    expect(values[0]).toBeCloseTo(1, 6);
  });
});

describe('GF-CF', () => {
  it('scores r R̃ᵀR̃ + α r D⁻¹ᐟ² V Vᵀ D¹ᐟ² exactly as the dense reference', async () => {
    const { rt, itemDegree } = denseNormalized();
    const linear = mul(T(rt), rt);
    const projector = mul(mul(T(rt), inverse(mul(rt, T(rt)))), rt);
    const alpha = 0.3;
    const model = new GfcfRecommender({ rank: 5, oversample: 1, alphas: [alpha], seed: 2 });
    await model.fit(trainingData());
    const history = Int32Array.from([1, 4, 5]);
    const r = Array.from({ length: NUM_ITEMS }, (_, i) => (history.includes(i) ? 1 : 0));
    const scale = itemDegree.map((d) => (d > 0 ? 1 / Math.sqrt(d) : 0));
    const expected = Array.from({ length: NUM_ITEMS }, (_, j) => {
      let s = 0;
      for (let i = 0; i < NUM_ITEMS; i++) {
        s += r[i] * linear[i][j];
        if (scale[j] > 0) s += (alpha * r[i] * scale[i] * projector[i][j]) / scale[j];
      }
      return s;
    });
    const out = new Float32Array(NUM_ITEMS);
    model.score(
      0,
      history,
      Int32Array.from({ length: NUM_ITEMS }, (_, i) => i),
      out,
    );
    for (let j = 0; j < NUM_ITEMS; j++) expect(out[j]).toBeCloseTo(expected[j], 5);
    // A candidate subset returns the same scores in the candidates' order.
    const subset = new Float32Array(2);
    model.score(0, history, Int32Array.from([4, 0]), subset);
    expect(Array.from(subset)).toEqual([out[4], out[0]]);
  });

  it('picks α on validation and reports every value it tried', async () => {
    const model = new GfcfRecommender({ rank: 3, oversample: 2, alphas: [0, 0.5, 2], seed: 2 });
    const tried: number[] = [];
    await model.fit(trainingData(), {
      validate: () => {
        const alpha = [0, 0.5, 2][tried.length];
        tried.push(alpha);
        return alpha === 0.5 ? 1 : 0;
      },
    });
    expect(tried).toEqual([0, 0.5, 2]);
    expect(model.describe()).toMatchObject({ alpha: 0.5, validation: '0:0.0000 0.5:1.0000 2:0.0000' });
  });

  it('is deterministic: two builds with one seed score with the same bytes', async () => {
    const scores = async () => {
      const model = new GfcfRecommender({ rank: 3, oversample: 2, alphas: [0.4], seed: 9 });
      await model.fit(trainingData());
      const out = new Float32Array(NUM_ITEMS);
      model.score(
        0,
        Int32Array.from([0, 2]),
        Int32Array.from({ length: NUM_ITEMS }, (_, i) => i),
        out,
      );
      return Buffer.from(out.buffer).toString('hex');
    };
    expect(await scores()).toBe(await scores());
  });
});

describe('model registry', () => {
  it('creates both graph models by the names edgerec eval --model accepts', async () => {
    const { BASELINES, createBaseline } = await import('../../src/train/baselines/index.ts');
    expect(BASELINES).toEqual(expect.arrayContaining(['lightgcn', 'gfcf']));
    expect(createBaseline('gfcf', 4).describe?.()).toMatchObject({ seed: 4, rank: 0 });
    expect(createBaseline('lightgcn', 4).describe?.()).toMatchObject({ seed: 4, layers: 3, dim: 64 });
  });
});
