import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrainingData } from '../../src/core/eval/model.ts';
import { InteractionLogBuilder, userItemsFromLists } from '../../src/core/interactions.ts';
import { derivedRandom, Random } from '../../src/core/random.ts';
import {
  buildComputation,
  buildPairPool,
  embedItems,
  type GnnModel,
  GnnNetwork,
  type GnnOptions,
  GnnRecommender,
  itemContent,
  resolveGnnOptions,
  sampleBatch,
  trainGnn,
} from '../../src/train/gnn/index.ts';
import { gatherRows, poolRows } from '../../src/train/gnn/ops.ts';
import type { NeighborTable } from '../../src/train/graph/index.ts';
import { initTraining, tf } from '../../src/train/tf/backend.ts';

beforeAll(async () => {
  await initTraining();
});

/** A NeighborTable from per-item lists of [neighbour, weight] and hard negatives. */
function tableOf(lists: [number, number][][], hard: number[][] = []): NeighborTable {
  const numItems = lists.length;
  const offsets = new Int32Array(numItems + 1);
  const hardOffsets = new Int32Array(numItems + 1);
  for (let i = 0; i < numItems; i++) {
    offsets[i + 1] = offsets[i] + lists[i].length;
    hardOffsets[i + 1] = hardOffsets[i] + (hard[i]?.length ?? 0);
  }
  return {
    numItems,
    topT: Math.max(0, ...lists.map((l) => l.length)),
    offsets,
    neighbors: Int32Array.from(lists.flat().map(([v]) => v)),
    weights: Float32Array.from(lists.flat().map(([, w]) => w)),
    hardOffsets,
    hard: Int32Array.from(hard.flat()),
  };
}

function data(numItems: number, users: number[][], catalog?: TrainingData['catalog']): TrainingData {
  return {
    numUsers: users.length,
    numItems,
    train: userItemsFromLists(users),
    log: new InteractionLogBuilder().build(),
    hasTimestamps: false,
    catalog,
  };
}

const w = (data: number[], shape: number[]) => ({ data: Float32Array.from(data), shape });

describe('importance pooling (PinSage convolve)', () => {
  // 4 items, dim 2, one layer. Q = I, q = [0, −0.5]; W = [I; I] so z = h + n; G = I.
  const table = tableOf([
    [
      [1, 0.75],
      [2, 0.25],
    ],
    [[0, 1]],
    [
      [0, 0.5],
      [1, 0.5],
    ],
    [], // item 3: no neighbours (cold)
  ]);
  const options = resolveGnnOptions({ dim: 2, hidden: 2, layers: 1, topics: false, titles: false });
  const model: GnnModel = {
    options,
    numItems: 4,
    content: {},
    id: Float32Array.from([1, 0, 0, 1, 1, 1, 2, -1]),
    dense: {
      Q0: w([1, 0, 0, 1], [2, 2]),
      q0: w([0, -0.5], [2]),
      W0: w([1, 0, 0, 1, 1, 0, 0, 1], [4, 2]),
      w0: w([0, 0], [2]),
      G: w([1, 0, 0, 1], [2, 2]),
      g: w([0, 0], [2]),
    },
  };
  const unit = (x: number, y: number) => [x / Math.hypot(x, y), y / Math.hypot(x, y)];

  it('matches hand-computed embeddings, all neighbours and top-k', () => {
    // Item 0: P(1) = ReLU([0, 1 − 0.5]) = [0, 0.5]; P(2) = ReLU([1, 0.5]); n = 0.75·P(1) + 0.25·P(2) = [0.25, 0.5].
    const all = embedItems(model, table, { neighbors: 'all' });
    const expected = [
      ...unit(1.25, 0.5),
      ...unit(1, 1), // item 1: n = P(0) = ReLU([1, −0.5]) = [1, 0]
      ...unit(1 + 0.5, 1 + 0.25), // item 2: n = 0.5·[1, 0] + 0.5·[0, 0.5]
      ...unit(2, 0), // item 3: nothing pooled, z = ReLU([2, −1])
    ];
    for (let i = 0; i < expected.length; i++) expect(all[i]).toBeCloseTo(expected[i], 6);
    // Top-1: item 0 keeps only item 1, weight renormalised to 1.
    const top1 = embedItems(model, table, { neighbors: 1 });
    expect(Array.from(top1.subarray(0, 2))).toEqual(unit(1, 0.5).map((v) => expect.closeTo(v, 6)));
  });

  it('the training forward pass (tf, one computation graph) gives the same embeddings', () => {
    const network = new GnnNetwork(4, {}, options, new Random(1));
    try {
      network.setWeights(model);
      const computation = buildComputation(table, Int32Array.of(3, 0, 2), 1, 2);
      // Targets first, then the neighbours they pool, each once.
      expect(Array.from(computation.levels[0])).toEqual([3, 0, 2, 1]);
      const inputs = tf.tensor2d(network.id.gather(computation.levels[0]), [4, 2]);
      const out = network.forward({ computation, inputs }).dataSync();
      const reference = embedItems(model, table, { neighbors: 2 });
      const rows = [3, 0, 2];
      rows.forEach((item, n) => {
        expect(out[n * 2]).toBeCloseTo(reference[item * 2], 5);
        expect(out[n * 2 + 1]).toBeCloseTo(reference[item * 2 + 1], 5);
      });
    } finally {
      network.dispose();
    }
  });

  it('gatherRows and poolRows have the gradients of their dense equivalents on wasm', () => {
    const x = tf.variable(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]));
    const upstream = tf.tensor2d([1, -1, 2, 0.5], [2, 2]);
    const slots = Int32Array.of(2, 0, 1, 1);
    const weights = Float32Array.of(0.25, 0.75, 1, 0);
    const pooled = tf.variableGrads(
      () =>
        poolRows(x as unknown as tf.Tensor2D, slots, weights, 2, 2)
          .mul(upstream)
          .sum() as tf.Scalar,
      [x],
    );
    // pooled = A x with A = [[0.75, 0, 0.25], [0, 1, 0]]: gradient Aᵀ · upstream.
    expect(Array.from(pooled.grads[x.name].dataSync())).toEqual([0.75, -0.75, 2, 0.5, 0.25, -0.25]);
    const gathered = tf.variableGrads(
      () =>
        gatherRows(x as unknown as tf.Tensor2D, Int32Array.of(1, 1))
          .mul(upstream)
          .sum() as tf.Scalar,
      [x],
    );
    expect(Array.from(gathered.grads[x.name].dataSync())).toEqual([0, 0, 3, -0.5, 0, 0]);
    x.dispose();
  });
});

/** Two clusters of 8 items; users engage within one cluster; the walk neighbours stay inside it. */
function clusters() {
  const numItems = 16;
  const random = new Random(7);
  const users: number[][] = [];
  for (let u = 0; u < 24; u++) {
    const base = (u % 2) * 8;
    users.push(Array.from({ length: 6 }, () => base + random.int(8)));
  }
  const lists: [number, number][][] = [];
  const hard: number[][] = [];
  for (let i = 0; i < numItems; i++) {
    const base = i < 8 ? 0 : 8;
    const mine = [1, 2, 3].map((s) => base + ((i - base + s) % 8));
    lists.push(mine.map((v, r) => [v, [0.5, 0.3, 0.2][r]]));
    hard.push([base + ((i - base + 4) % 8), (8 + i) % 16]);
  }
  // Item 15 is cold: no training interactions and no neighbours.
  for (const items of users) for (let k = 0; k < items.length; k++) if (items[k] === 15) items[k] = 14;
  lists[15] = [];
  for (const l of lists) for (let k = l.length - 1; k >= 0; k--) if (l[k][0] === 15) l.splice(k, 1);
  for (const l of lists) {
    const total = l.reduce((s, [, x]) => s + x, 0);
    for (const e of l) e[1] /= total;
  }
  return { data: data(numItems, users), table: tableOf(lists, hard) };
}

const tiny: Partial<GnnOptions> = {
  dim: 8,
  hidden: 8,
  batchSize: 8,
  sharedNegatives: 4,
  trainNeighbors: 2,
  epochs: 3,
  stepsPerEpoch: 4,
  maxHard: 2,
  learningRate: 0.01,
  sparseLearningRate: 0.05,
};

function cosine(table: Float32Array, dim: number, a: number, b: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += table[a * dim + d] * table[b * dim + d];
  return s;
}

describe('training', () => {
  const { data: toy, table } = clusters();
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('moves the id rows, lowers the loss and separates the clusters', async () => {
    const options = resolveGnnOptions({ ...tiny, epochs: 1 });
    const network = new GnnNetwork(toy.numItems, {}, options, new Random(3));
    try {
      const before = network.id.values.slice();
      const pool = buildPairPool(toy, options.window);
      const losses: number[] = [];
      for (let step = 0; step < 60; step++) {
        const batch = sampleBatch(pool, table, derivedRandom(3, 0, step), {
          batchSize: 8,
          hardPerAnchor: 1,
          boardShare: 0,
          sharedNegatives: 4,
        });
        losses.push(network.trainStep(batch, table));
      }
      let moved = 0;
      for (let i = 0; i < before.length; i++) if (before[i] !== network.id.values[i]) moved++;
      expect(moved).toBeGreaterThan(before.length / 2);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(losses.slice(-10))).toBeLessThan(mean(losses.slice(0, 10)));
      const out = embedItems(network.export(), table);
      const within: number[] = [];
      const across: number[] = [];
      for (let a = 0; a < 15; a++)
        for (let b = a + 1; b < 15; b++) (a < 8 === b < 8 ? within : across).push(cosine(out, 8, a, b));
      expect(mean(within)).toBeGreaterThan(mean(across) + 0.2);
    } finally {
      network.dispose();
    }
  });

  it('adds min(epoch, maxHard) hard negatives per anchor, drawn from the hard list', async () => {
    const seen: number[] = [];
    const result = await trainGnn(
      toy,
      table,
      { ...tiny, epochs: 4, stepsPerEpoch: 1 },
      {
        onProgress: (info) => seen.push(info.hardNegatives),
      },
    );
    expect(seen).toEqual([0, 1, 2, 2]);
    expect(result.history.map((r) => r.hardNegatives)).toEqual([0, 1, 2, 2]);
    const pool = buildPairPool(toy, 3);
    const batch = sampleBatch(pool, table, new Random(1), {
      batchSize: 8,
      hardPerAnchor: 2,
      boardShare: 0,
      sharedNegatives: 0,
    });
    for (let n = 0; n < 8; n++) {
      const list = Array.from(
        table.hard.subarray(table.hardOffsets[batch.anchors[n]], table.hardOffsets[batch.anchors[n] + 1]),
      );
      const drawn = Array.from(batch.hard.subarray(n * 2, n * 2 + 2));
      expect(new Set(drawn).size).toBe(2);
      for (const h of drawn) expect(list).toContain(h);
    }
  });

  it('a run stopped mid-way and resumed ends bit-identical to an uninterrupted one', async () => {
    // A validation score that moves with the weights, so the best-epoch bookkeeping is exercised too.
    const validate = (items: Float32Array) => cosine(items, 8, 0, 1) - cosine(items, 8, 0, 9);
    const straight = await trainGnn(toy, table, tiny, { validate });

    const dir = mkdtempSync(join(tmpdir(), 'gnn-resume-'));
    dirs.push(dir);
    const checkpointDir = join(dir, 'ckpt');
    const controller = new AbortController();
    let done = 0;
    await expect(
      trainGnn(toy, table, tiny, {
        checkpointDir,
        validate,
        signal: controller.signal,
        onProgress: () => {
          if (++done === 6) controller.abort(); // epoch 1, step 2 of 4
        },
      }),
    ).rejects.toThrow(/stopped/);
    const resumed = await trainGnn(toy, table, { ...tiny, checkpointEvery: 1 }, { checkpointDir, validate });
    expect(resumed.resumedAt).toEqual({ epoch: 1, step: 2 });
    expect(resumed.steps).toBe(12 - 6);
    expect(resumed.bestEpoch).toBe(straight.bestEpoch);
    expect(resumed.history).toEqual(straight.history);
    expect(resumed.table).toEqual(straight.table);
    expect(resumed.model.id).toEqual(straight.model.id);

    // A crash (no save on the way out) resumes from the last periodic checkpoint.
    const crashDir = join(dir, 'crash');
    let count = 0;
    await expect(
      trainGnn(
        toy,
        table,
        { ...tiny, checkpointEvery: 1 },
        {
          checkpointDir: crashDir,
          validate,
          onProgress: () => {
            if (++count === 7) throw new Error('killed');
          },
        },
      ),
    ).rejects.toThrow('killed');
    const recovered = await trainGnn(toy, table, tiny, { checkpointDir: crashDir, validate });
    expect(recovered.resumedAt).toEqual({ epoch: 1, step: 2 });
    expect(recovered.table).toEqual(straight.table);
  });

  it('embeds every item, cold ones included, with unit-norm rows', async () => {
    const result = await trainGnn(toy, table, { ...tiny, epochs: 1 });
    const { dim } = result.model.options;
    expect(result.table.length).toBe(toy.numItems * dim);
    for (let i = 0; i < toy.numItems; i++) {
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += result.table[i * dim + d] ** 2;
      expect(Math.sqrt(norm)).toBeCloseTo(1, 5);
    }
    // Item 15 has no neighbours and no interactions, yet gets a usable (non-zero, finite) embedding.
    expect(Array.from(result.table.subarray(15 * dim, 16 * dim)).every(Number.isFinite)).toBe(true);
  });

  it('uses topics and hashed title tokens where the catalog has them', () => {
    const catalog = {
      titles: ['Red Barn Door', undefined, 'red door'],
      topics: [['home'], ['home', 'garden'], []],
    };
    const content = itemContent(catalog, 3, { topics: true, titles: true, titleBuckets: 1 << 14 });
    expect(content.topics?.vocabulary).toBe(2);
    expect(
      Array.from(content.topics!.rows.subarray(content.topics!.offsets[1], content.topics!.offsets[2])),
    ).toEqual([0, 1]);
    const titleRows = (i: number) =>
      Array.from(content.titles!.rows.subarray(content.titles!.offsets[i], content.titles!.offsets[i + 1]));
    expect(titleRows(0).length).toBe(3);
    expect(titleRows(1)).toEqual([]);
    // "red" and "door" hash to the same buckets in both titles, whatever the case.
    expect(titleRows(0)).toEqual(expect.arrayContaining(titleRows(2)));
  });
});

describe('GnnRecommender', () => {
  it('scores from a trained table: recency-weighted history mean, item-to-item cosine', () => {
    const s = Math.SQRT1_2;
    const table = Float32Array.from([1, 0, 0, 1, s, s]);
    const recommender = GnnRecommender.fromTable(table, 2, { historyDecay: 0.5 });
    const out = new Float32Array(3);
    recommender.itemScores(2, out);
    expect(Array.from(out).map((v) => +v.toFixed(5))).toEqual([+s.toFixed(5), +s.toFixed(5), 1]);
    // History [0, 1]: item 1 is newest (weight 1), item 0 weight 0.5 → user = [0.5, 1] / 1.5.
    recommender.score(0, Int32Array.of(0, 1), Int32Array.of(0, 1, 2), out);
    expect(out[0]).toBeCloseTo(1 / 3, 6);
    expect(out[1]).toBeCloseTo(2 / 3, 6);
    expect(out[2]).toBeCloseTo(s, 6);
  });
});
