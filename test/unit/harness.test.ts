import { describe, expect, it } from 'vitest';
import {
  evaluate,
  fitOnSplit,
  historyFor,
  refitData,
  sampleNegatives,
  trainingData,
} from '../../src/core/eval/harness.ts';
import type { FitHooks, Recommender, TrainingData } from '../../src/core/eval/model.ts';
import type { EvalSplit, Protocol } from '../../src/core/eval/split.ts';
import {
  InteractionLogBuilder,
  type UserItems,
  userItemsFromLists,
  userItemsOf,
} from '../../src/core/interactions.ts';
import { Random } from '../../src/core/random.ts';

const log2 = Math.log2;

function makeSplit(
  protocol: Protocol,
  numItems: number,
  train: number[][],
  valid: number[][],
  test: number[][],
  givenNegatives?: Map<number, Int32Array>,
): EvalSplit {
  const trainLog = new InteractionLogBuilder();
  train.forEach((items, u) => {
    for (const [t, item] of items.entries()) trainLog.push(u, item, 1, t);
  });
  return {
    protocol,
    numUsers: train.length,
    numItems,
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: userItemsFromLists(test),
    trainLog: trainLog.build(),
    validLog: new InteractionLogBuilder().build(),
    hasTimestamps: true,
    givenNegatives,
    description: 'hand-made',
  };
}

const lists = (table: UserItems): number[][] =>
  Array.from({ length: table.offsets.length - 1 }, (_, u) => Array.from(userItemsOf(table, u)));

interface Call {
  user: number;
  history: number[];
  candidates: number[];
}

/** A model whose scores are whatever `scoreOf` says; it records every call it gets. */
class ScriptedModel implements Recommender {
  readonly name = 'scripted';
  readonly calls: Call[] = [];
  fitted?: TrainingData;
  constructor(private readonly scoreOf: (user: number, item: number) => number) {}

  async fit(data: TrainingData): Promise<void> {
    this.fitted = data;
  }

  score(user: number, history: Int32Array, candidates: Int32Array, out: Float32Array): void {
    this.calls.push({ user, history: Array.from(history), candidates: Array.from(candidates) });
    for (let c = 0; c < candidates.length; c++) out[c] = this.scoreOf(user, candidates[c]);
  }
}

describe('sampleNegatives', () => {
  it('never returns an item of the training set, and reaches every other item', () => {
    const train = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    const negatives = sampleNegatives(new Random(1), 20, train, 1000);
    expect(negatives).toHaveLength(1000);
    expect(new Set(negatives)).toEqual(new Set([15, 16, 17, 18, 19]));
  });

  it('is deterministic under a seed', () => {
    const train = Int32Array.from([3, 7]);
    const a = sampleNegatives(new Random(5), 50, train, 30);
    const b = sampleNegatives(new Random(5), 50, train, 30);
    const c = sampleNegatives(new Random(6), 50, train, 30);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('draws with replacement from the non-training items and throws when there are none', () => {
    expect(sampleNegatives(new Random(0), 5, Int32Array.from([0, 1, 2, 3]), 4)).toEqual(
      Int32Array.from([4, 4, 4, 4]),
    );
    expect(sampleNegatives(new Random(0), 5, Int32Array.from([]), 0)).toHaveLength(0);
    expect(() => sampleNegatives(new Random(0), 3, Int32Array.from([0, 1, 2]), 1)).toThrow(
      /interacted with every item/,
    );
  });
});

describe('sampleNegatives from a pool of interacted items', () => {
  it('draws only from the pool, minus the training set, and throws when the pool is exhausted', () => {
    const pool = Int32Array.from([1, 4, 6, 9]);
    const negatives = sampleNegatives(new Random(2), pool, Int32Array.from([4, 5]), 500);
    expect(new Set(negatives)).toEqual(new Set([1, 6, 9]));
    expect(() => sampleNegatives(new Random(0), pool, Int32Array.from([1, 4, 6, 9, 12]), 1)).toThrow(
      /interacted with every item/,
    );
  });

  it('matches drawing from a count when the pool is every item (the SASRec sequence is unchanged)', () => {
    const train = Int32Array.from([2, 3]);
    const all = Int32Array.from({ length: 30 }, (_, i) => i);
    expect(sampleNegatives(new Random(9), all, train, 40)).toEqual(
      sampleNegatives(new Random(9), 30, train, 40),
    );
  });
});

describe('evaluate: sasrec', () => {
  // 10 items. u0: train 0 1 2, valid 3, test 4. u1: train 5 6, valid 7, test 8.
  // u2 has no targets and u3 nothing at all: neither is evaluable.
  const train = [[0, 1, 2], [5, 6], [9], []];
  const valid = [[3], [7], [], []];
  const test = [[4], [8], [], []];

  it('averages tied ranks exactly, with sampled negatives that are never training items', () => {
    const split = makeSplit('sasrec', 10, train, valid, test);
    // Training items score 100, everything else 0: every sampled negative (never a training item) ties
    // with the target, so each user's rank is {above 0, tied 3} whichever 3 negatives are drawn. A training
    // item among the negatives would score above the target and lower every number below.
    const trainSets = train.map((items) => new Set(items));
    for (const stage of ['valid', 'test'] as const) {
      const model = new ScriptedModel((u, item) => (trainSets[u].has(item) ? 100 : 0));
      const result = evaluate(model, split, stage, { negatives: 3, ks: [1, 2], seed: 11 });
      expect(result.protocol).toBe('sasrec');
      expect(result.stage).toBe(stage);
      expect(result.users).toBe(2);
      const m = result.metrics;
      // Four equally likely 0-based ranks 0..3:
      // HR@1 = 1/4, HR@2 = 2/4, HR@10 = 4/4.
      expect(m['HR@1']).toBeCloseTo(0.25, 12);
      expect(m['HR@2']).toBeCloseTo(0.5, 12);
      expect(m['HR@10']).toBeCloseTo(1, 12);
      // NDCG@1 = 1/4; NDCG@2 = (1 + 1/log2 3)/4 = 0.407732;
      // NDCG@10 = (1 + 1/log2 3 + 1/log2 4 + 1/log2 5)/4 = (1 + 0.630930 + 0.5 + 0.430677)/4 = 0.640402.
      expect(m['NDCG@1']).toBeCloseTo(0.25, 12);
      expect(m['NDCG@2']).toBeCloseTo((1 + 1 / log2(3)) / 4, 12);
      expect(m['NDCG@10']).toBeCloseTo(0.640402, 6);
      // MRR = (1 + 1/2 + 1/3 + 1/4)/4 = 25/48; AUC = (3 − 3 + ½·3)/3 = 1/2.
      expect(m.MRR).toBeCloseTo(25 / 48, 12);
      expect(m.AUC).toBeCloseTo(0.5, 12);
      expect(Object.keys(m)).toEqual([
        'HR@1',
        'NDCG@1',
        'HR@2',
        'NDCG@2',
        'HR@10',
        'NDCG@10',
        'MRR',
        'AUC',
        'Coverage@10',
      ]);
      // One call per evaluable user: target first, then 3 negatives outside the user's training set.
      expect(model.calls.map((c) => c.user)).toEqual([0, 1]);
      for (const call of model.calls) {
        const targets = stage === 'valid' ? valid : test;
        expect(call.candidates[0]).toBe(targets[call.user][0]);
        expect(call.candidates).toHaveLength(4);
        for (const negative of call.candidates.slice(1))
          expect(trainSets[call.user].has(negative)).toBe(false);
      }
    }
  });

  it('gives the model train as history at validation, and train followed by valid at test', () => {
    const split = makeSplit('sasrec', 10, train, valid, test);
    expect(lists(historyFor(split, 'valid'))).toEqual(train);
    expect(lists(historyFor(split, 'test'))).toEqual([[0, 1, 2, 3], [5, 6, 7], [9], []]);
    const model = new ScriptedModel(() => 0);
    evaluate(model, split, 'valid', { negatives: 2 });
    expect(model.calls.map((c) => c.history)).toEqual([
      [0, 1, 2],
      [5, 6],
    ]);
    model.calls.length = 0;
    evaluate(model, split, 'test', { negatives: 2 });
    expect(model.calls.map((c) => c.history)).toEqual([
      [0, 1, 2, 3],
      [5, 6, 7],
    ]);
  });

  it('is deterministic under a seed', () => {
    const split = makeSplit('sasrec', 10, train, valid, test);
    const run = (seed: number) => {
      const model = new ScriptedModel((_u, item) => item % 3);
      const result = evaluate(model, split, 'test', { negatives: 5, seed });
      return { result, candidates: model.calls.map((c) => c.candidates) };
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3).candidates).not.toEqual(run(4).candidates);
  });

  it('ranks the test item against the given (NCF) negatives at test, and samples at validation', () => {
    const given = new Map([
      [0, Int32Array.from([5, 6, 7, 8, 9])],
      [1, Int32Array.from([0, 9])],
    ]);
    const split = makeSplit('sasrec', 10, train, valid, test, given);
    //  item:     0  1  2  3  4  5  6  7  8  9
    const table = [9, 9, 9, 9, 5, 5, 5, 9, 1, 0];
    const model = new ScriptedModel((_u, item) => table[item]);
    const result = evaluate(model, split, 'test', { ks: [1, 2], negatives: 50 });
    expect(model.calls.map((c) => c.candidates)).toEqual([
      [4, 5, 6, 7, 8, 9],
      [8, 0, 9],
    ]);
    // u0: target 4 scores 5; negatives 5 6 7 8 9 score 5 5 9 1 0 → above 1 (item 7), tied 2 (items 5, 6),
    //     so 0-based ranks 1, 2, 3 with probability 1/3 each.
    //     HR@1 = 0, HR@2 = 1/3, HR@10 = 1; NDCG@2 = (1/log2 3)/3;
    //     NDCG@10 = (1/log2 3 + 1/log2 4 + 1/log2 5)/3 = (0.630930 + 0.5 + 0.430677)/3 = 0.520536;
    //     MRR = (1/2 + 1/3 + 1/4)/3 = 13/36; AUC = (5 − 1 − 2 + ½·2)/5 = 3/5.
    // u1: target 8 scores 1; negatives 0 and 9 score 9 and 0 → above 1, tied 0: rank 1.
    //     HR@1 = 0, HR@2 = 1, HR@10 = 1; NDCG@2 = NDCG@10 = 1/log2 3 = 0.630930; MRR = 1/2; AUC = (2 − 1)/2 = 1/2.
    const m = result.metrics;
    expect(result.users).toBe(2);
    expect(m['HR@1']).toBe(0);
    expect(m['HR@2']).toBeCloseTo((1 / 3 + 1) / 2, 12); // 2/3
    expect(m['HR@10']).toBeCloseTo(1, 12);
    expect(m['NDCG@1']).toBe(0);
    expect(m['NDCG@2']).toBeCloseTo((1 / log2(3) / 3 + 1 / log2(3)) / 2, 12); // 2/(3·log2 3) = 0.420620
    expect(m['NDCG@10']).toBeCloseTo((0.520536 + 0.63093) / 2, 5); // 0.575733
    expect(m.MRR).toBeCloseTo((13 / 36 + 1 / 2) / 2, 12); // 31/72
    expect(m.AUC).toBeCloseTo((0.6 + 0.5) / 2, 12); // 0.55
    // Coverage@10: the top 10 of each candidate list covers items {4..9} ∪ {8, 0, 9} = 7 of 10.
    expect(m['Coverage@10']).toBeCloseTo(0.7, 12);

    // Validation ignores the given negatives: it samples `negatives` of them, outside the training set.
    model.calls.length = 0;
    evaluate(model, split, 'valid', { negatives: 4 });
    expect(model.calls.map((c) => c.candidates[0])).toEqual([3, 7]);
    for (const call of model.calls) {
      expect(call.candidates).toHaveLength(5);
      for (const negative of call.candidates.slice(1)) expect(train[call.user]).not.toContain(negative);
    }
  });

  it('sampleUsers scores a deterministic, seeded subset of the evaluable users', () => {
    // 20 users, each with train [u % 10], valid [(u + 1) % 10], test [(u + 2) % 10], over 10 items.
    const n = 20;
    const split = makeSplit(
      'sasrec',
      10,
      Array.from({ length: n }, (_, u) => [u % 10]),
      Array.from({ length: n }, (_, u) => [(u + 1) % 10]),
      Array.from({ length: n }, (_, u) => [(u + 2) % 10]),
    );
    const scoredUsers = (options: { seed?: number; sampleUsers?: number }) => {
      const model = new ScriptedModel(() => 0);
      const result = evaluate(model, split, 'test', { negatives: 2, ...options });
      expect(result.users).toBe(model.calls.length);
      return model.calls.map((c) => c.user);
    };
    const a = scoredUsers({ seed: 1, sampleUsers: 5 });
    expect(a).toHaveLength(5);
    expect(new Set(a).size).toBe(5);
    expect([...a].sort((x, y) => x - y)).toEqual(a); // scored in index order
    for (const u of a) expect(u).toBeGreaterThanOrEqual(0);
    for (const u of a) expect(u).toBeLessThan(n);
    expect(scoredUsers({ seed: 1, sampleUsers: 5 })).toEqual(a);
    const others = [2, 3, 4, 5].map((seed) => scoredUsers({ seed, sampleUsers: 5 }));
    expect(others.some((b) => b.join() !== a.join())).toBe(true);
    // Asking for as many users as there are (or more) scores them all.
    expect(scoredUsers({ sampleUsers: 20 })).toHaveLength(20);
    expect(scoredUsers({ sampleUsers: 100 })).toHaveLength(20);
    expect(scoredUsers({})).toHaveLength(20);
  });
});

//  item:          0  1  2  3  4  5
const FULL_TABLE = [9, 1, 8, 2, 7, 3];

describe('evaluate: full', () => {
  // u0: train 0 1, valid 2, test 3 4. u1: train 5, valid 0, test 1.
  // u2: its test item is in its history, so it has no positive left and is skipped.
  // u3: a test item but no history: not evaluable.
  const split = makeSplit('full', 6, [[0, 1], [5], [3], []], [[2], [0], [], []], [[3, 4], [1], [3], [2]]);

  it('ranks every unseen item and matches the hand-computed metrics at test', () => {
    const model = new ScriptedModel((_u, item) => FULL_TABLE[item]);
    const result = evaluate(model, split, 'test', { ks: [1, 2] });
    // The model scores all 6 items for each of u0, u1, u2, with history train + valid.
    expect(model.calls).toEqual([
      { user: 0, history: [0, 1, 2], candidates: [0, 1, 2, 3, 4, 5] },
      { user: 1, history: [5, 0], candidates: [0, 1, 2, 3, 4, 5] },
      { user: 2, history: [3], candidates: [0, 1, 2, 3, 4, 5] },
    ]);
    // u0: history 0 1 2 is excluded; ranking 4 (7), 5 (3), 3 (2); positives {3, 4}.
    //   Recall@1 = 1/2, Recall@2 = 1/2, Recall@10 = 2/2.
    //   NDCG@1 = 1/1; NDCG@2 = 1 / (1 + 1/log2 3) = 0.613147;
    //   NDCG@10 = (1 + 1/log2 4) / (1 + 1/log2 3) = 1.5/1.630930 = 0.919721.
    //   HR@1 = HR@2 = HR@10 = 1; MRR = 1; AUC: pairs (4,5) right, (3,5) wrong → 1 − 1/2 = 1/2.
    // u1: history 5 0 is excluded; ranking 2 (8), 4 (7), 3 (2), 1 (1); positives {1} at position 4.
    //   Recall@1 = Recall@2 = 0, Recall@10 = 1; NDCG@1 = NDCG@2 = 0, NDCG@10 = 1/log2 5 = 0.430677;
    //   HR@1 = HR@2 = 0, HR@10 = 1; MRR = 1/4; AUC = 1 − 3/3 = 0.
    // u2: positives {3} − history {3} = ∅ → skipped.
    const m = result.metrics;
    expect(result.protocol).toBe('full');
    expect(result.users).toBe(2);
    expect(m['Recall@1']).toBeCloseTo(0.25, 12);
    expect(m['Recall@2']).toBeCloseTo(0.25, 12);
    expect(m['Recall@10']).toBeCloseTo(1, 12);
    expect(m['NDCG@1']).toBeCloseTo(0.5, 12);
    expect(m['NDCG@2']).toBeCloseTo(1 / (1 + 1 / log2(3)) / 2, 12); // 0.306574
    expect(m['NDCG@10']).toBeCloseTo((1.5 / (1 + 1 / log2(3)) + 1 / log2(5)) / 2, 12); // 0.675199
    expect(m['NDCG@10']).toBeCloseTo(0.675199, 6);
    expect(m['HR@1']).toBe(0.5);
    expect(m['HR@2']).toBe(0.5);
    expect(m['HR@10']).toBe(1);
    expect(m.MRR).toBeCloseTo((1 + 0.25) / 2, 12);
    expect(m.AUC).toBeCloseTo((0.5 + 0) / 2, 12);
    // Coverage@10: u0's list 4 5 3 and u1's 2 4 3 1 cover {1, 2, 3, 4, 5}: 5 of 6 items.
    expect(m['Coverage@10']).toBeCloseTo(5 / 6, 12);
  });

  it('scores the validation stage against train only', () => {
    const model = new ScriptedModel((_u, item) => FULL_TABLE[item]);
    const result = evaluate(model, split, 'valid', { ks: [1] });
    // u0: excluded 0 1; ranking 2 (8), 4, 5, 3: positive 2 first. u1: excluded 5; 0 (9) first, positive 0.
    // u2 has no validation target.
    expect(model.calls.map((c) => c.history)).toEqual([[0, 1], [5]]);
    expect(result.users).toBe(2);
    expect(result.metrics['Recall@1']).toBe(1);
    expect(result.metrics['NDCG@10']).toBe(1);
    expect(result.metrics.MRR).toBe(1);
    expect(result.metrics.AUC).toBe(1);
  });

  it('keeps history among the candidates with excludeHistory: false', () => {
    const model = new ScriptedModel((_u, item) => FULL_TABLE[item]);
    const result = evaluate(model, split, 'test', { ks: [1], excludeHistory: false });
    // u0: ranking 0 2 4 5 3 1; positives {3, 4} at positions 3 and 5.
    //   Recall@10 = 1; NDCG@10 = (1/log2 4 + 1/log2 6)/(1 + 1/log2 3) = (0.5 + 0.386853)/1.630930 = 0.543777;
    //   MRR = 1/3; AUC: 4 negatives {0, 1, 2, 5}; 4 (7) loses to 0, 2 → 2; 3 (2) loses to 0, 2, 5 → 3;
    //   AUC = 1 − 5/8 = 3/8.
    // u1: ranking 0 2 4 5 3 1; positive {1} last (position 6): NDCG@10 = 1/log2 7; MRR = 1/6; AUC = 0.
    // u2: positive {3} stays (not removed from history): ranking position 5: MRR 1/5; AUC = 1 − 4/5 = 1/5.
    const m = result.metrics;
    expect(result.users).toBe(3);
    expect(m.MRR).toBeCloseTo((1 / 3 + 1 / 6 + 1 / 5) / 3, 12);
    expect(m.AUC).toBeCloseTo((3 / 8 + 0 + 1 / 5) / 3, 12);
    expect(m['NDCG@10']).toBeCloseTo(
      ((0.5 + 1 / log2(6)) / (1 + 1 / log2(3)) + 1 / log2(7) + 1 / log2(6)) / 3,
      12,
    );
  });
});

describe('evaluate: temporal', () => {
  // u0: train 0 1, valid 2, test 3. u1 has a test item but no history: not evaluable.
  const split = makeSplit('temporal', 6, [[0, 1], []], [[2], []], [[3], [4]]);

  it('keeps history among the candidates with excludeHistory: false', () => {
    const model = new ScriptedModel((_u, item) => FULL_TABLE[item]);
    const result = evaluate(model, split, 'test', { ks: [1, 2], excludeHistory: false });
    // Ranking of all items: 0 (9), 2 (8), 4 (7), 5 (3), 3 (2), 1 (1); positive 3 at position 5.
    // Recall@10 = HR@10 = 1, Recall@1,2 = 0; NDCG@10 = 1/log2 6 = 0.386853; MRR = 1/5;
    // AUC: 5 negatives, 4 above (0, 2, 4, 5) → 1 − 4/5 = 1/5.
    const m = result.metrics;
    expect(result.protocol).toBe('temporal');
    expect(result.users).toBe(1);
    expect(model.calls.map((c) => c.history)).toEqual([[0, 1, 2]]);
    expect(m['Recall@1']).toBe(0);
    expect(m['Recall@2']).toBe(0);
    expect(m['Recall@10']).toBe(1);
    expect(m['HR@10']).toBe(1);
    expect(m['NDCG@10']).toBeCloseTo(1 / log2(6), 12);
    expect(m.MRR).toBeCloseTo(0.2, 12);
    expect(m.AUC).toBeCloseTo(0.2, 12);
    // Coverage@10: the top 10 of 6 items is all of them.
    expect(m['Coverage@10']).toBe(1);
  });

  it('drops history (train and validation items) from the candidates by default, as `full` does', () => {
    const model = new ScriptedModel((_u, item) => FULL_TABLE[item]);
    const result = evaluate(model, split, 'test');
    // Ranking without 0 1 2: 4 (7), 5 (3), 3 (2); positive at position 3.
    // NDCG@10 = 1/log2 4 = 1/2; MRR = 1/3; AUC: negatives {4, 5} both above → 0.
    expect(result.metrics['NDCG@10']).toBeCloseTo(0.5, 12);
    expect(result.metrics.MRR).toBeCloseTo(1 / 3, 12);
    expect(result.metrics.AUC).toBe(0);
  });
});

describe('fitOnSplit', () => {
  it('fits on the training part and validates on the validation stage, never on test', async () => {
    // The full split above: with FULL_TABLE, validation NDCG@10 is 1 and test NDCG@10 is 0.675199.
    const split = makeSplit('full', 6, [[0, 1], [5], [3], []], [[2], [0], [], []], [[3, 4], [1], [3], [2]]);
    const seen: number[] = [];
    let historiesDuringValidate: number[][] = [];
    let hooksGiven: FitHooks | undefined;
    class ValidatingModel extends ScriptedModel {
      override async fit(data: TrainingData, hooks?: FitHooks): Promise<void> {
        await super.fit(data);
        hooksGiven = hooks;
        this.calls.length = 0;
        seen.push(hooks!.validate!());
        historiesDuringValidate = this.calls.map((c) => c.history);
      }
    }
    const model = new ValidatingModel((_u, item) => FULL_TABLE[item]);
    const progress: number[] = [];
    await fitOnSplit(model, split, { seed: 3, onProgress: (done) => progress.push(done) });
    expect(seen).toEqual([1]);
    expect(historiesDuringValidate).toEqual([[0, 1], [5]]);
    expect(evaluate(model, split, 'test').metrics['NDCG@10']).toBeCloseTo(0.675199, 6);
    // The model got the training part only, and the progress callback is passed through.
    expect(model.fitted).toEqual(trainingData(split));
    expect(lists(model.fitted!.train)).toEqual([[0, 1], [5], [3], []]);
    expect(model.fitted!.log).toBe(split.trainLog);
    hooksGiven!.onProgress!(7, 10);
    expect(progress).toEqual([7]);
  });
});

describe('refitData', () => {
  it("holds each user's training then validation events, in order, and none of the test stage's", () => {
    const split = makeSplit('sasrec', 6, [[0, 1], [5], []], [[2], [0], [4]], [[3], [1], [5]]);
    const validLog = new InteractionLogBuilder();
    // Rows out of user order, as a real log has them; each user's validation events come after training.
    validLog.push(1, 0, 1, 10);
    validLog.push(0, 2, 1, 12);
    validLog.push(2, 4, 1, 11);
    const data = refitData({ ...split, validLog: validLog.build() });
    expect(lists(data.train)).toEqual([[0, 1, 2], [5, 0], [4]]);
    expect(Array.from(data.log.user)).toEqual([0, 0, 1, 1, 0, 2]);
    expect(Array.from(data.log.item)).toEqual([0, 1, 5, 0, 2, 4]);
    expect(Array.from(data.log.ts)).toEqual([0, 1, 0, 10, 12, 11]);
    const { train: _, log: __, ...rest } = data;
    const { train: ___, log: ____, ...base } = trainingData(split);
    expect(rest).toEqual(base);
  });
});
