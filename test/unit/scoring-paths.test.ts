import { describe, expect, it } from 'vitest';
import { dotScores, dotScoresOne } from '../../src/core/eval/dot-scores.ts';
import { evaluate } from '../../src/core/eval/harness.ts';
import { evaluateItemToItem, type ItemSimilarity } from '../../src/core/eval/item-to-item.ts';
import { fullRankStatistics, wrongPairsScan, wrongPairsSorted } from '../../src/core/eval/metrics.ts';
import type { Recommender } from '../../src/core/eval/model.ts';
import type { EvalSplit, Protocol } from '../../src/core/eval/split.ts';
import { InteractionLogBuilder, userItemsFromLists } from '../../src/core/interactions.ts';
import { Random } from '../../src/core/random.ts';
import { BprRecommender } from '../../src/train/baselines/index.ts';
import { GnnRecommender } from '../../src/train/gnn/index.ts';
import { inBatchMask, inBatchMaskScan } from '../../src/train/gnn/loss-mask.ts';

const random = new Random(11);
const normals = (n: number) => Float32Array.from({ length: n }, () => random.normal());

function split(protocol: Protocol, numUsers: number, numItems: number): EvalSplit {
  const lists = (min: number, spread: number) =>
    Array.from({ length: numUsers }, () => {
      const items = new Set<number>();
      const n = min + random.int(spread);
      while (items.size < n) items.add(random.int(numItems));
      return [...items];
    });
  const train = lists(5, 20);
  const log = new InteractionLogBuilder();
  train.forEach((items, u) => {
    for (const [t, item] of items.entries()) log.push(u, item, 1, t);
  });
  return {
    protocol,
    numUsers,
    numItems,
    train: userItemsFromLists(train),
    valid: userItemsFromLists(protocol === 'sasrec' ? lists(1, 1) : lists(1, 30)),
    test: userItemsFromLists(lists(1, 1)),
    trainLog: log.build(),
    validLog: new InteractionLogBuilder().build(),
    hasTimestamps: false,
    description: 'random',
  };
}

/** The same model seen through `score` only: the harness then takes its one-user-at-a-time path. */
const unbatched = (model: Recommender): Recommender => ({
  name: model.name,
  fit: (data, hooks) => model.fit(data, hooks),
  score: (user, history, candidates, out) => model.score(user, history, candidates, out),
});

describe('batched dot-product scoring', () => {
  it('is bit-identical to the scalar loop, with and without a bias, for any number of queries', () => {
    const dim = 24;
    const table = normals(300 * dim);
    const bias = normals(300);
    const candidates = Int32Array.from({ length: 180 }, () => random.int(300));
    for (const n of [1, 3, 4, 7, 9]) {
      const queries = normals(n * dim);
      for (const b of [undefined, bias]) {
        const batched = Array.from({ length: n }, () => new Float32Array(candidates.length));
        dotScores(queries, dim, table, candidates, batched, b);
        for (let r = 0; r < n; r++) {
          const one = new Float32Array(candidates.length);
          dotScoresOne(queries.subarray(r * dim, (r + 1) * dim), dim, table, candidates, one, b);
          expect(batched[r]).toEqual(one);
        }
      }
    }
  });

  it('gives BPR the same metrics on full, temporal and sasrec validation as scoring user by user', async () => {
    for (const protocol of ['full', 'temporal', 'sasrec'] as const) {
      const s = split(protocol, 90, 150);
      const model = new BprRecommender({ dim: 16, maxEpochs: 3, seed: 4 });
      await model.fit({ ...s, log: s.trainLog });
      const batched = evaluate(model, s, 'valid', { seed: 1 });
      expect(batched.users).toBeGreaterThan(80);
      expect(batched).toEqual(evaluate(unbatched(model), s, 'valid', { seed: 1 }));
    }
  });

  it('gives the GNN recommender the same user and item-to-item scores as one query at a time', () => {
    const s = split('sasrec', 70, 120);
    const dim = 16;
    const table = normals(120 * dim);
    for (let i = 0; i < 120; i++) {
      const row = table.subarray(i * dim, (i + 1) * dim);
      const norm = Math.hypot(...row);
      for (let d = 0; d < dim; d++) row[d] /= norm;
    }
    const model = GnnRecommender.fromTable(table, dim);
    const full = split('full', 70, 120);
    expect(evaluate(model, full, 'valid')).toEqual(evaluate(unbatched(model), full, 'valid'));
    const oneAtATime: ItemSimilarity = {
      name: 'gnn',
      itemScores: (item, out) => model.itemScores(item, out),
    };
    const batched = evaluateItemToItem(model, s, 'valid');
    expect(batched.users).toBeGreaterThan(40);
    expect(batched).toEqual(evaluateItemToItem(oneAtATime, s, 'valid'));
  });
});

describe('AUC pair counting', () => {
  it('counts the same wrong and tied pairs by sorting as by scanning', () => {
    for (let trial = 0; trial < 20; trial++) {
      const n = 50 + random.int(200);
      // Few distinct values, so ties are common; some candidates excluded (-Infinity) or NaN.
      const scores = Float32Array.from({ length: n }, () => {
        const x = random.next();
        return x < 0.05 ? Number.NEGATIVE_INFINITY : x < 0.07 ? Number.NaN : random.int(12) / 4;
      });
      const positives = new Set(Array.from({ length: 1 + random.int(40) }, () => random.int(n)));
      expect(wrongPairsSorted(scores, positives)).toEqual(wrongPairsScan(scores, positives));
    }
  });

  it('uses the sorted count past eight positives with the documented result', () => {
    // Positives 0..9 score 1; negatives: 5 score 2 (ahead), 5 score 1 (tied), 10 score 0.
    const scores = Float32Array.from([
      ...Array(10).fill(1),
      ...Array(5).fill(2),
      ...Array(5).fill(1),
      ...Array(10).fill(0),
    ]);
    const positives = new Set(Array.from({ length: 10 }, (_, i) => i));
    const { auc, reciprocalRank } = fullRankStatistics(scores, positives);
    expect(auc).toBeCloseTo(1 - (10 * 5 + 10 * 5 * 0.5) / (10 * 20), 12);
    expect(reciprocalRank).toBe(1 / 6);
  });
});

describe('the GNN loss mask', () => {
  it('equals the per-entry comparison, with repeated items among queries, partners and candidates', () => {
    for (let trial = 0; trial < 10; trial++) {
      const items = 30 + random.int(50);
      const draw = (n: number) => Int32Array.from({ length: n }, () => random.int(items));
      const queries = draw(40);
      const partners = draw(40);
      partners[0] = queries[0]; // a pair of one item with itself
      const candidates = Int32Array.from([...queries, ...draw(60)]);
      const fast = inBatchMask(queries, partners, candidates);
      const scan = inBatchMaskScan(queries, partners, candidates);
      expect(fast.pairs).toBe(scan.pairs);
      expect(fast.mask).toEqual(scan.mask);
      expect(scan.pairs).toBeLessThan(queries.length * candidates.length);
    }
  });
});
