import { describe, expect, it } from 'vitest';
import { evaluate, fitOnSplit, trainingData } from '../../src/core/eval/harness.ts';
import type { TrainingData } from '../../src/core/eval/model.ts';
import type { EvalSplit } from '../../src/core/eval/split.ts';
import { InteractionLogBuilder, userItemsFromLists } from '../../src/core/interactions.ts';
import { Random } from '../../src/core/random.ts';
import {
  BprRecommender,
  createBaseline,
  ItemKnnRecommender,
  PopularityRecommender,
} from '../../src/train/baselines/index.ts';

function makeSplit(numItems: number, train: number[][], valid: number[][], test: number[][]): EvalSplit {
  const log = new InteractionLogBuilder();
  train.forEach((items, u) => {
    for (const [t, item] of items.entries()) log.push(u, item, 1, t);
  });
  return {
    protocol: 'full',
    numUsers: train.length,
    numItems,
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: userItemsFromLists(test),
    trainLog: log.build(),
    validLog: new InteractionLogBuilder().build(),
    hasTimestamps: false,
    description: 'hand-made',
  };
}

function scoreAll(
  model: { score: (u: number, h: Int32Array, c: Int32Array, o: Float32Array) => void },
  user: number,
  history: number[],
  numItems: number,
): number[] {
  const candidates = Int32Array.from({ length: numItems }, (_, i) => i);
  const out = new Float32Array(numItems);
  model.score(user, Int32Array.from(history), candidates, out);
  return Array.from(out);
}

// Four users over four items:
//   u0: 0 1 2   u1: 0 1   u2: 1 3   u3: 2
// Item degrees (users): d0 = 2, d1 = 3, d2 = 2, d3 = 1.
// Co-occurrences: c01 = 2 (u0, u1), c02 = 1 (u0), c12 = 1 (u0), c13 = 1 (u2), c03 = c23 = 0.
// Cosine: s01 = 2/√(2·3) = 0.816497, s02 = 1/√(2·2) = 0.5, s12 = 1/√(3·2) = 0.408248, s13 = 1/√(3·1) = 0.577350.
const TRAIN = [[0, 1, 2], [0, 1], [1, 3], [2]];
const S01 = 2 / Math.sqrt(6);
const S02 = 0.5;
const S12 = 1 / Math.sqrt(6);
const S13 = 1 / Math.sqrt(3);
// Popularity prior 1e-4·ln(1 + d)/ln(1 + max d), max d = 3: items 0 and 2: 1e-4·ln 3/ln 4 = 0.792481e-4,
// item 1: 1e-4, item 3: 1e-4·ln 2/ln 4 = 0.5e-4.
const PRIOR = [1e-4 * (Math.log(3) / Math.log(4)), 1e-4, 1e-4 * (Math.log(3) / Math.log(4)), 0.5e-4];

function tinySplit(): EvalSplit {
  return makeSplit(4, TRAIN, [[3], [2], [0], []], [[], [], [], []]);
}

describe('PopularityRecommender', () => {
  it('scores every item by its training count', async () => {
    const model = new PopularityRecommender();
    await model.fit(trainingData(tinySplit()));
    // Item 0: u0, u1 → 2; item 1: u0, u1, u2 → 3; item 2: u0, u3 → 2; item 3: u2 → 1.
    expect(Array.from(model.itemCounts())).toEqual([2, 3, 2, 1]);
    const out = new Float32Array(3);
    model.score(0, Int32Array.from([0]), Int32Array.from([3, 1, 0]), out);
    expect(Array.from(out)).toEqual([1, 3, 2]);
    expect(model.name).toBe('pop');
  });
});

describe('ItemKnnRecommender', () => {
  it('scores by cosine co-occurrence computed by hand (decay 1)', async () => {
    const model = new ItemKnnRecommender({ decays: [1] });
    await model.fit(trainingData(tinySplit()));
    expect(model.describe()).toEqual({ neighbors: 400, historyLength: 50, decays: [1], decay: 1 });
    // History [0]: item 0 votes s01 for item 1 and s02 for item 2; nothing for itself or item 3.
    const fromZero = scoreAll(model, 0, [0], 4);
    const expected0 = [PRIOR[0], S01 + PRIOR[1], S02 + PRIOR[2], PRIOR[3]];
    fromZero.forEach((s, i) => {
      expect(s).toBeCloseTo(expected0[i], 6);
    });
    // History [1]: s10 = 0.816497, s12 = 0.408248, s13 = 0.577350.
    const fromOne = scoreAll(model, 0, [1], 4);
    const expected1 = [S01 + PRIOR[0], PRIOR[1], S12 + PRIOR[2], S13 + PRIOR[3]];
    fromOne.forEach((s, i) => {
      expect(s).toBeCloseTo(expected1[i], 6);
    });
    // History [0, 3], decay 1: item 1 gets s13 + s01 = 0.577350 + 0.816497 = 1.393847, plus its prior 1e-4
    // = 1.393947; item 2 gets s02.
    const both = scoreAll(model, 0, [0, 3], 4);
    expect(both[1]).toBeCloseTo(S13 + S01 + PRIOR[1], 6);
    expect(both[1]).toBeCloseTo(1.393947, 6);
    expect(both[2]).toBeCloseTo(S02 + PRIOR[2], 6);
    // Scores stay the same on a second call: the scratch votes are cleared.
    expect(scoreAll(model, 0, [0, 3], 4)).toEqual(both);
  });

  it('keeps only the top neighbours and the most recent history', async () => {
    const model = new ItemKnnRecommender({ decays: [1], neighbors: 1, historyLength: 1 });
    await model.fit(trainingData(tinySplit()));
    // Item 1's best neighbour is item 0 (s10 = 0.816 > s13 = 0.577 > s12 = 0.408): items 2 and 3 get nothing.
    const scores = scoreAll(model, 0, [1], 4);
    expect(scores[0]).toBeCloseTo(S01 + PRIOR[0], 6);
    expect(scores[2]).toBeCloseTo(PRIOR[2], 9);
    expect(scores[3]).toBeCloseTo(PRIOR[3], 9);
    // historyLength 1: in [1, 0] only the last item (0) votes; item 0's single neighbour is item 1.
    const recent = scoreAll(model, 0, [1, 0], 4);
    expect(recent[1]).toBeCloseTo(S01 + PRIOR[1], 6);
    expect(recent[2]).toBeCloseTo(PRIOR[2], 9);
  });

  it('chooses the decay with the validate hook and scores with it', async () => {
    const model = new ItemKnnRecommender({ decays: [1, 0.5, 0.25] });
    const tried: unknown[] = [];
    const value: Record<string, number> = { 1: 0.1, 0.5: 0.3, 0.25: 0.2 };
    await model.fit(trainingData(tinySplit()), {
      validate: () => {
        const decay = model.describe().decay as number;
        tried.push(decay);
        return value[String(decay)];
      },
    });
    expect(tried).toEqual([1, 0.5, 0.25]);
    expect(model.describe().decay).toBe(0.5);
    // History [0, 3] with decay 0.5: item 3 (most recent) weighs 1, item 0 weighs 0.5.
    // Item 1: s13 + 0.5·s01 = 0.577350 + 0.408248 = 0.985599; item 2: 0.5·s02 = 0.25.
    const scores = scoreAll(model, 0, [0, 3], 4);
    expect(scores[1]).toBeCloseTo(S13 + 0.5 * S01 + PRIOR[1], 6);
    expect(scores[2]).toBeCloseTo(0.25 + PRIOR[2], 6);
  });

  it('picks the decay that wins on a real validation stage', async () => {
    // Three users engage with 0 and 1, three with 3 and 4; user 6 engaged with 0, then 3, and validates on 4.
    const train = [
      [0, 1],
      [0, 1],
      [0, 1],
      [3, 4],
      [3, 4],
      [3, 4],
      [0, 3],
    ];
    const valid = [[], [], [], [], [], [], [4]];
    const split = makeSplit(
      5,
      train,
      valid,
      train.map(() => []),
    );
    // User 6 (history 0, 3; target 4): item 1 gets d·s01 (from 0, one step back), item 4 gets s34 (from 3).
    // Degrees: d0 = 4, d1 = 3, d3 = 4, d4 = 3; s01 = 3/√12 = 0.866025, s34 = 3/√12 = 0.866025:
    // with decay 1 items 1 and 4 tie (prior: both have degree 3) and the tie goes to item 1 (lower index),
    // NDCG@10 = 1/log2 3 = 0.630930; with decay 0.5 item 4 leads and NDCG@10 = 1.
    const model = new ItemKnnRecommender({ decays: [1, 0.5] });
    await fitOnSplit(model, split);
    expect(model.describe().decay).toBe(0.5);
    expect(evaluate(model, split, 'valid').metrics['NDCG@10']).toBe(1);
    const undecayed = new ItemKnnRecommender({ decays: [1] });
    await fitOnSplit(undecayed, split);
    expect(evaluate(undecayed, split, 'valid').metrics['NDCG@10']).toBeCloseTo(1 / Math.log2(3), 6);
  });

  it('fits a catalog of 200,000 items (more arguments than a spread call takes)', async () => {
    const data: TrainingData = {
      numUsers: 2,
      numItems: 200_000,
      train: userItemsFromLists([[0, 199_999], [199_999]]),
      log: new InteractionLogBuilder().build(),
      hasTimestamps: false,
    };
    const model = new ItemKnnRecommender({ decays: [1] });
    await model.fit(data);
    const out = new Float32Array(1);
    model.score(0, Int32Array.from([0]), Int32Array.from([199_999]), out);
    // s(0, 199999) = 1/√(1·2); prior of 199999 (degree 2 = max) = 1e-4.
    expect(out[0]).toBeCloseTo(1 / Math.sqrt(2) + 1e-4, 6);
  });
});

/** Two blocks of users and items: users 0–19 engage with items 0–9, users 20–39 with items 10–19. */
function blockSplit(seed: number): EvalSplit {
  const random = new Random(seed);
  const train: number[][] = [];
  const valid: number[][] = [];
  const test: number[][] = [];
  for (let u = 0; u < 40; u++) {
    const block = Array.from({ length: 10 }, (_, k) => k + (u < 20 ? 0 : 10));
    random.shuffle(block);
    train.push(block.slice(0, 6));
    valid.push([block[6]]);
    test.push([block[7]]);
  }
  return makeSplit(20, train, valid, test);
}

const SMALL_BPR = { dim: 8, learningRate: 0.05, regularization: 0.002, validateEvery: 1, patience: 3 };

describe('BprRecommender', () => {
  it('is deterministic under its seed', async () => {
    const split = blockSplit(1);
    const fitted = async (seed: number) => {
      const model = new BprRecommender({ ...SMALL_BPR, maxEpochs: 3, seed });
      await model.fit(trainingData(split));
      return [0, 25].flatMap((u) => scoreAll(model, u, [], 20));
    };
    const a = await fitted(7);
    expect(await fitted(7)).toEqual(a);
    expect(await fitted(8)).not.toEqual(a);
  });

  it('learns the block structure: validation AUC well above 0.5', async () => {
    const split = blockSplit(2);
    const untrained = new BprRecommender({ ...SMALL_BPR, maxEpochs: 0 });
    await untrained.fit(trainingData(split));
    const before = evaluate(untrained, split, 'valid').metrics.AUC;
    const model = new BprRecommender({ ...SMALL_BPR, learningRate: 0.2, maxEpochs: 15, patience: 5 });
    const checks: number[] = [];
    await model.fit(trainingData(split), {
      validate: () => {
        const auc = evaluate(model, split, 'valid').metrics.AUC;
        checks.push(auc);
        return auc;
      },
    });
    const after = evaluate(model, split, 'valid').metrics.AUC;
    // A perfect block model ranks the validation item among its block's 4 unseen items, above the 10 of
    // the other block: expected AUC (10 + 1.5)/13 = 0.88. Random scores give about 0.5.
    expect(before).toBeLessThan(0.7);
    expect(after).toBeGreaterThan(0.8);
    expect(checks[checks.length - 1]).toBeGreaterThan(checks[0]);
    // After fit the model holds the best validated epoch.
    expect(after).toBe(Math.max(...checks));
  });

  it('early stopping stops after `patience` checks without improvement and restores the best epoch', async () => {
    const split = blockSplit(3);
    const model = new BprRecommender({ ...SMALL_BPR, maxEpochs: 20, patience: 2 });
    const scripted = [0.1, 0.5, 0.3, 0.2, 0.9];
    const snapshots: number[][] = [];
    await model.fit(trainingData(split), {
      validate: () => {
        snapshots.push(scoreAll(model, 0, [], 20));
        return scripted[snapshots.length - 1];
      },
    });
    // Epoch 1: 0.1 (best), epoch 2: 0.5 (best), epoch 3: 0.3, epoch 4: 0.2 → 2 checks without gain: stop.
    expect(snapshots).toHaveLength(4);
    expect(model.describe()).toMatchObject({ epochsRun: 4, bestEpoch: 2 });
    expect(snapshots[1]).not.toEqual(snapshots[3]);
    expect(scoreAll(model, 0, [], 20)).toEqual(snapshots[1]);
  });

  it('validates every `validateEvery` epochs and keeps the last epoch without a validate hook', async () => {
    const split = blockSplit(4);
    const model = new BprRecommender({ ...SMALL_BPR, maxEpochs: 6, validateEvery: 3 });
    const epochsAtCheck: number[] = [];
    await model.fit(trainingData(split), {
      validate: () => {
        epochsAtCheck.push(model.describe().epochsRun as number);
        return epochsAtCheck.length;
      },
    });
    expect(epochsAtCheck).toEqual([3, 6]);
    expect(model.describe()).toMatchObject({ epochsRun: 6, bestEpoch: 6 });
    const unhooked = new BprRecommender({ ...SMALL_BPR, maxEpochs: 2 });
    await unhooked.fit(trainingData(split));
    expect(unhooked.describe()).toMatchObject({ epochsRun: 2, bestEpoch: 2, dim: 8 });
  });
});

describe('createBaseline', () => {
  it('makes each baseline by name', () => {
    expect(createBaseline('pop').name).toBe('pop');
    expect(createBaseline('itemknn').name).toBe('itemknn');
    expect(createBaseline('bpr', 5).name).toBe('bpr');
    expect((createBaseline('bpr', 5) as BprRecommender).describe()).toMatchObject({ seed: 5 });
  });
});
