import { describe, expect, it } from 'vitest';
import {
  fullRankStatistics,
  hitRateAt,
  MetricAccumulator,
  ndcgAt,
  recallAt,
  sampledAuc,
  sampledHitRate,
  sampledNdcg,
  sampledRank,
  sampledReciprocalRank,
} from '../../src/core/eval/metrics.ts';
import { topK } from '../../src/core/topk.ts';

const log2 = Math.log2;

describe('sampledRank', () => {
  it('counts negatives strictly above and exactly tied with the target', () => {
    // target 0.5; negatives 0.9 and 0.7 are above, the two 0.5s tie, 0.1 is below.
    expect(sampledRank(0.5, [0.9, 0.5, 0.1, 0.5, 0.7])).toEqual({ above: 2, tied: 2, negatives: 5 });
    expect(sampledRank(1, new Float32Array([0, 0, 0]))).toEqual({ above: 0, tied: 0, negatives: 3 });
    expect(sampledRank(1, [])).toEqual({ above: 0, tied: 0, negatives: 0 });
  });
});

describe('sampled metrics with averaged ties', () => {
  it('target alone at the top', () => {
    const rank = { above: 0, tied: 0, negatives: 100 };
    // 0-based rank 0: HR = 1, NDCG = 1/log2(2) = 1, RR = 1/1, AUC = 100/100.
    expect(sampledHitRate(rank, 10)).toBe(1);
    expect(sampledNdcg(rank, 10)).toBe(1);
    expect(sampledReciprocalRank(rank)).toBe(1);
    expect(sampledAuc(rank)).toBe(1);
  });

  it('target tied with 2 negatives at (1-based) rank 9, among 100 negatives', () => {
    // 8 negatives above, 2 tied: the target takes 1-based rank 9, 10 or 11 with probability 1/3 each.
    const rank = { above: 8, tied: 2, negatives: 100 };
    // HR@10 = 1/3·(1) + 1/3·(1) + 1/3·(0) = 2/3 (rank 11 is outside the top 10).
    expect(sampledHitRate(rank, 10)).toBeCloseTo(2 / 3, 12);
    // HR@9 = 1/3·(1 + 0 + 0) = 1/3; HR@11 = 1; HR@8 = 0.
    expect(sampledHitRate(rank, 9)).toBeCloseTo(1 / 3, 12);
    expect(sampledHitRate(rank, 11)).toBe(1);
    expect(sampledHitRate(rank, 8)).toBe(0);
    // NDCG@10 = 1/3·(1/log2(9+1) + 1/log2(10+1) + 0) = 1/3·(0.30103 + 0.28906) = 0.196697
    expect(sampledNdcg(rank, 10)).toBeCloseTo((1 / log2(10) + 1 / log2(11)) / 3, 12);
    expect(sampledNdcg(rank, 10)).toBeCloseTo(0.196697, 5);
    // MRR = 1/3·(1/9 + 1/10 + 1/11) = 1/3·(0.111111 + 0.1 + 0.090909) = 0.100673
    expect(sampledReciprocalRank(rank)).toBeCloseTo((1 / 9 + 1 / 10 + 1 / 11) / 3, 12);
    expect(sampledReciprocalRank(rank)).toBeCloseTo(0.100673, 5);
    // AUC = (100 − 8 above − 2 tied + ½·2) / 100 = 91/100.
    expect(sampledAuc(rank)).toBeCloseTo(0.91, 12);
  });

  it('a small list computed from raw scores', () => {
    // target 0.5 vs [0.9, 0.5, 0.1, 0.5, 0.7]: above 2, tied 2 → 0-based ranks 2, 3, 4 equally likely.
    const rank = sampledRank(0.5, [0.9, 0.5, 0.1, 0.5, 0.7]);
    // HR@3 = 1/3·(1 + 0 + 0) = 1/3
    expect(sampledHitRate(rank, 3)).toBeCloseTo(1 / 3, 12);
    // NDCG@3 = 1/3·(1/log2(4)) = 1/3·1/2 = 1/6
    expect(sampledNdcg(rank, 3)).toBeCloseTo(1 / 6, 12);
    // NDCG@5 = 1/3·(1/log2 4 + 1/log2 5 + 1/log2 6) = 1/3·(0.5 + 0.430677 + 0.386853) = 0.439177
    expect(sampledNdcg(rank, 5)).toBeCloseTo(0.439177, 5);
    // MRR = 1/3·(1/3 + 1/4 + 1/5) = 1/3·47/60 = 47/180
    expect(sampledReciprocalRank(rank)).toBeCloseTo(47 / 180, 12);
    // AUC = (5 − 2 − 2 + ½·2)/5 = 2/5
    expect(sampledAuc(rank)).toBeCloseTo(0.4, 12);
  });

  it('everything tied with the target: metrics are the uniform average over all positions', () => {
    const rank = sampledRank(0, [0, 0, 0]);
    // 4 positions (0-based 0..3): HR@2 = 2/4; NDCG@2 = (1 + 1/log2 3)/4; MRR = (1 + 1/2 + 1/3 + 1/4)/4.
    expect(sampledHitRate(rank, 2)).toBe(0.5);
    expect(sampledNdcg(rank, 2)).toBeCloseTo((1 + 1 / log2(3)) / 4, 12);
    expect(sampledReciprocalRank(rank)).toBeCloseTo(25 / 48, 12);
    // AUC = (3 − 0 − 3 + 1.5)/3 = 1/2
    expect(sampledAuc(rank)).toBe(0.5);
  });

  it('target below every negative', () => {
    const rank = sampledRank(-1, [0, 1, 2]);
    expect(rank).toEqual({ above: 3, tied: 0, negatives: 3 });
    expect(sampledHitRate(rank, 3)).toBe(0);
    expect(sampledNdcg(rank, 3)).toBe(0);
    expect(sampledReciprocalRank(rank)).toBe(1 / 4);
    expect(sampledAuc(rank)).toBe(0);
  });

  it('AUC is 1 with no negatives', () => {
    expect(sampledAuc({ above: 0, tied: 0, negatives: 0 })).toBe(1);
  });
});

describe('ranked-list metrics', () => {
  // Best first: position 1 = item 5, position 2 = item 2 (positive), position 5 = item 7 (positive).
  const ranked = Int32Array.from([5, 2, 8, 1, 7]);
  const positives = new Set([2, 7, 9]);

  it('recallAt divides hits in the top k by |P|', () => {
    expect(recallAt(ranked, positives, 1)).toBe(0); // no hit in [5]
    expect(recallAt(ranked, positives, 2)).toBeCloseTo(1 / 3, 12); // item 2
    expect(recallAt(ranked, positives, 4)).toBeCloseTo(1 / 3, 12);
    expect(recallAt(ranked, positives, 5)).toBeCloseTo(2 / 3, 12); // items 2, 7
    expect(recallAt(ranked, positives, 50)).toBeCloseTo(2 / 3, 12); // list shorter than k
    expect(recallAt(ranked, new Set(), 5)).toBe(0);
  });

  it('hitRateAt is 1 as soon as one positive is in the top k', () => {
    expect(hitRateAt(ranked, positives, 1)).toBe(0);
    expect(hitRateAt(ranked, positives, 2)).toBe(1);
    expect(hitRateAt(ranked, positives, 10)).toBe(1);
    expect(hitRateAt(ranked, new Set([42]), 10)).toBe(0);
  });

  it('ndcgAt uses the ideal DCG over min(|P|, k) positives (LightGCN)', () => {
    // k = 5: DCG = 1/log2(2+1) + 1/log2(5+1) = 0.630930 + 0.386853 = 1.017783
    //        IDCG over min(3, 5) = 3: 1/log2 2 + 1/log2 3 + 1/log2 4 = 1 + 0.630930 + 0.5 = 2.130930
    //        NDCG@5 = 1.017783 / 2.130930 = 0.477624
    expect(ndcgAt(ranked, positives, 5)).toBeCloseTo(
      (1 / log2(3) + 1 / log2(6)) / (1 + 1 / log2(3) + 0.5),
      12,
    );
    expect(ndcgAt(ranked, positives, 5)).toBeCloseTo(0.477624, 5);
    // k = 2: DCG = 1/log2 3; IDCG over min(3, 2) = 2: 1 + 1/log2 3 → 0.630930/1.630930 = 0.386853
    expect(ndcgAt(ranked, positives, 2)).toBeCloseTo(1 / log2(3) / (1 + 1 / log2(3)), 12);
    expect(ndcgAt(ranked, positives, 1)).toBe(0);
    // With more positives than k, a top-k that is all positives scores exactly 1.
    expect(ndcgAt(Int32Array.from([2, 7, 0]), new Set([2, 7, 9, 11, 12]), 2)).toBe(1);
    // No positives: 0, not NaN.
    expect(ndcgAt(ranked, new Set(), 5)).toBe(0);
  });
});

describe('fullRankStatistics', () => {
  //                  index: 0    1    2    3          4    5    6
  const scores = Float32Array.from([0.5, 0.9, 0.5, -Infinity, 0.2, 0.5, Number.NaN]);

  it('reciprocal rank of the best positive breaks ties by index; AUC counts ties as one half', () => {
    const stats = fullRankStatistics(scores, new Set([2, 4]));
    // Best positive: 2 (0.5 beats 0.2). Ahead of it: 1 (0.9 > 0.5) and 0 (0.5, index 0 < 2);
    // 5 ties at 0.5 but has a higher index; 3 (-Inf) and 6 (NaN) are not candidates. RR = 1/(2+1).
    expect(stats.reciprocalRank).toBeCloseTo(1 / 3, 12);
    // Negatives (scored, not positive): 0, 1, 5 → 2 positives × 3 negatives = 6 pairs.
    // Wrong pairs: p=2 (0.5): vs 0 tie ½, vs 1 above 1, vs 5 tie ½ → 2; p=4 (0.2): 0, 1, 5 all above → 3.
    // AUC = 1 − 5/6 = 1/6.
    expect(stats.auc).toBeCloseTo(1 / 6, 12);
  });

  it('agrees with topK on the rank of the best positive', () => {
    // Positive 5 (0.5) is tied with 0 and 2 (both lower indices) and beaten by 1: topK order 1, 0, 2, 5.
    expect(Array.from(topK(scores, 4))).toEqual([1, 0, 2, 5]);
    const stats = fullRankStatistics(scores, new Set([5]));
    expect(stats.reciprocalRank).toBeCloseTo(1 / 4, 12);
    // Negatives 0, 1, 2, 4: wrong pairs ½ (0) + 1 (1) + ½ (2) + 0 (4) = 2 of 4 → AUC = 1/2.
    expect(stats.auc).toBeCloseTo(0.5, 12);
  });

  it('excludes positives scored -Infinity or NaN', () => {
    // Positive 3 is -Inf, 6 is NaN: only 4 (0.2) counts; 4 candidates (0, 1, 2, 5) are ahead → RR = 1/5.
    const stats = fullRankStatistics(scores, new Set([3, 4, 6]));
    expect(stats.reciprocalRank).toBeCloseTo(1 / 5, 12);
    // 1 scored positive × 4 negatives, all 4 above it → AUC = 1 − 4/4 = 0.
    expect(stats.auc).toBe(0);
  });

  it('gives zeros when no positive is scored, and AUC 1 with no negatives', () => {
    expect(fullRankStatistics(scores, new Set([3, 6]))).toEqual({ reciprocalRank: 0, auc: 0 });
    expect(fullRankStatistics(scores, new Set())).toEqual({ reciprocalRank: 0, auc: 0 });
    // Every scored item is a positive: best is 1 (2 > 1), nothing ahead; no pairs → AUC 1.
    expect(fullRankStatistics([1, 2, -Infinity], new Set([0, 1]))).toEqual({ reciprocalRank: 1, auc: 1 });
  });

  it('a perfect ranking has RR 1 and AUC 1', () => {
    expect(fullRankStatistics([3, 2, 1, 0], new Set([0, 1]))).toEqual({ reciprocalRank: 1, auc: 1 });
  });
});

describe('MetricAccumulator', () => {
  it('averages each metric over the users added, in insertion order', () => {
    const acc = new MetricAccumulator();
    expect(acc.users).toBe(0);
    expect(acc.means()).toEqual({});
    acc.add({ HR: 1, NDCG: 0.5 });
    acc.add({ HR: 0, NDCG: 0.25 });
    acc.add({ HR: 1, NDCG: 0 });
    expect(acc.users).toBe(3);
    // HR = (1 + 0 + 1)/3 = 2/3; NDCG = (0.5 + 0.25 + 0)/3 = 0.25
    const means = acc.means();
    expect(Object.keys(means)).toEqual(['HR', 'NDCG']);
    expect(means.HR).toBeCloseTo(2 / 3, 12);
    expect(means.NDCG).toBe(0.25);
  });

  it('divides by every user added, so a metric missing from some rows counts them as 0', () => {
    const acc = new MetricAccumulator();
    acc.add({ a: 2 });
    acc.add({ a: 4, b: 6 });
    // a = (2 + 4)/2 = 3; b = 6/2 = 3
    expect(acc.means()).toEqual({ a: 3, b: 3 });
  });
});
