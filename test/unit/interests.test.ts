import { describe, expect, it } from 'vitest';
import {
  decayedFrequency,
  largestRemainder,
  medoids,
  mergeByQuota,
  userInterests,
  wardClustering,
} from '../../src/core/interests/index.ts';

// Five points on a line: 0, 1, 5, 7, 8 (dim 1). Squared distances: d01 = 1, d34 = 1, d23 = 4, d24 = 9, …
const line = Float64Array.from([0, 1, 5, 7, 8]);

describe('wardClustering (hand-computed, Lance–Williams)', () => {
  it('merges in the order and at the distances worked out by hand', () => {
    const { merges, clusters } = wardClustering(line, 5, 1);
    // 1. {0,1} and {3,4} both at W = 1: the tie goes to the lower indices, {0,1} first, distance √1 = 1.
    //    W({01},2) = (2·25 + 2·16 − 1·1)/3 = 27; W({01},3) = (2·49 + 2·36 − 1)/3 = 169/3;
    //    W({01},4) = (2·64 + 2·49 − 1)/3 = 75.
    // 2. {3,4} at W = 1, distance 1. W(2,{34}) = (2·4 + 2·9 − 1·1)/3 = 25/3;
    //    W({01},{34}) = (3·169/3 + 3·75 − 2·1)/4 = 98.
    // 3. {2} with {3,4} at W = 25/3, distance √(25/3) = 2.886751…
    //    W({01},{234}) = (3·27 + 4·98 − 2·25/3)/5 = 91.2666…
    // 4. {0,1} with {2,3,4} at distance √91.2666… = 9.553358…
    // (Each W equals 2·|A|·|B|/(|A|+|B|)·‖cA − cB‖², e.g. 2·2·3/5·(0.5 − 20/3)² = 91.2666….)
    expect(merges.map(({ a, b, size }) => [a, b, size])).toEqual([
      [0, 1, 2],
      [3, 4, 2],
      [2, 3, 3],
      [0, 2, 5],
    ]);
    const expected = [1, 1, Math.sqrt(25 / 3), Math.sqrt(1369 / 15)];
    merges.forEach((m, i) => {
      expect(m.distance).toBeCloseTo(expected[i], 12);
    });
    expect(clusters).toEqual([[0, 1, 2, 3, 4]]);
  });

  it('cuts at a distance threshold, and merges on past it down to maxClusters', () => {
    expect(wardClustering(line, 5, 1, { threshold: 5 }).clusters).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
    expect(wardClustering(line, 5, 1, { threshold: 2.5 }).clusters).toEqual([[0, 1], [2], [3, 4]]);
    expect(wardClustering(line, 5, 1, { threshold: 0.5 }).clusters).toEqual([[0], [1], [2], [3], [4]]);
    expect(wardClustering(line, 5, 1, { threshold: 0.5, maxClusters: 2 }).clusters).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
    expect(wardClustering(line, 5, 1, { maxClusters: 3 }).clusters).toEqual([[0, 1], [2], [3, 4]]);
  });

  it('works in several dimensions: the distance of two points is their Euclidean distance', () => {
    // (0,0), (3,4), (0,1): the closest pair is 0–2 at distance 1; then W({0,2},1) = (2·25 + 2·18 − 1)/3.
    const { merges } = wardClustering(Float32Array.from([0, 0, 3, 4, 0, 1]), 3, 2);
    expect(merges[0]).toEqual({ a: 0, b: 2, distance: 1, size: 2 });
    expect(merges[1].distance).toBeCloseTo(Math.sqrt(85 / 3), 12);
  });
});

describe('medoids', () => {
  it('is the member with the least summed squared distance to the others, ties to the lower index', () => {
    // {5, 7, 8}: 5 → 4 + 9 = 13, 7 → 4 + 1 = 5, 8 → 9 + 1 = 10, so point 3 (value 7); {0, 1} tie → 0.
    expect(medoids(line, 1, [[0, 1], [2, 3, 4], [4]])).toEqual([0, 3, 4]);
  });
});

describe('decayedFrequency', () => {
  it('halves an engagement’s weight every half-life; without a clock each counts 1', () => {
    const day = 86_400_000;
    expect(decayedFrequency([10 * day, 9 * day, 8 * day], 10 * day, day)).toBeCloseTo(1.75, 12);
    expect(decayedFrequency([Number.NaN, Number.NaN], 10 * day, day)).toBe(2);
    expect(decayedFrequency([0, day], 10 * day, Number.POSITIVE_INFINITY)).toBe(2);
  });
});

describe('userInterests', () => {
  it('clusters unit rows, picks medoids and orders interests by time-decayed importance', () => {
    const day = 86_400_000;
    // A = (1, 0), B = (0.8, 0.6), C = (0, 2) (unit length: (0, 1)). Squared distances AB 0.4, AC 2, BC 0.8:
    // A and B merge at √0.4; W({AB}, C) = (2·2 + 2·0.8 − 0.4)/3 = 1.7333 → distance 1.3166 > 1, so stop.
    const rows = Float32Array.from([1, 0, 0.8, 0.6, 0, 2]);
    const pins = [
      { item: 10, times: [10 * day] },
      { item: 11, times: [9 * day, 8 * day] },
      { item: 12, times: [10 * day, 10 * day] },
    ];
    const options = {
      threshold: 1,
      maxClusters: 8,
      maxPins: 100,
      halfLifeDays: 1,
      maxInterests: 3,
      singleShare: 0,
    };
    const interests = userInterests(pins, rows, 2, 10 * day, options);
    // Importance: {A, B} = 1 + 0.5 + 0.25 = 1.75; {C} = 2, so C's interest comes first.
    expect(interests).toEqual([
      { members: [2], medoid: 2, importance: 2 },
      { members: [0, 1], medoid: 0, importance: 1.75 },
    ]);
    // With a long half-life frequency alone decides: {A, B} has 3 engagements, {C} 2.
    expect(userInterests(pins, rows, 2, 10 * day, { ...options, halfLifeDays: 1e9 })[0].members).toEqual([
      0, 1,
    ]);
  });
});

describe('largestRemainder', () => {
  it('gives floors of the exact shares, then the seats left to the largest remainders', () => {
    // 10 seats at 3:2:1 → exact 5, 3.33, 1.67 → floors 5, 3, 1; the tenth seat to remainder 0.67.
    expect(largestRemainder([3, 2, 1], 10)).toEqual([5, 3, 2]);
    // 3 seats at 1:1:1:1 → 0.75 each: ties go to the lower index.
    expect(largestRemainder([1, 1, 1, 1], 3)).toEqual([1, 1, 1, 0]);
    expect(largestRemainder([0, 0], 5)).toEqual([3, 2]);
    expect(() => largestRemainder([1, -1], 2)).toThrow(/≥ 0/);
  });
});

describe('mergeByQuota', () => {
  it('takes each list’s quota in order, skips items an earlier list took, and fills short lists’ seats', () => {
    const lists = [
      [1, 2, 3, 4, 5, 6],
      [2, 7, 8, 9],
      [7, 10],
    ];
    // Quotas of 6 at 3:2:1 → 3, 2, 1. List 0: 1 2 3. List 1: 2 is taken → 7 8. List 2: 7 taken → 10.
    expect(mergeByQuota(lists, [3, 2, 1], 6)).toEqual({
      items: Int32Array.from([1, 2, 3, 7, 8, 10]),
      source: Int32Array.from([0, 0, 0, 1, 1, 2]),
    });
    // Quotas of 6 at 0:1:3 → exact 0, 1.5, 4.5 → floors 0, 1, 4, the tie of remainders to list 1: 0, 2, 4.
    // List 1: 2 7. List 2: 7 is taken → 10, then it runs out three seats short; they are filled from list 0
    // in its order, skipping the taken 2: 1 3 4.
    expect(mergeByQuota(lists, [0, 1, 3], 6)).toEqual({
      items: Int32Array.from([2, 7, 10, 1, 3, 4]),
      source: Int32Array.from([1, 1, 2, 0, 0, 0]),
    });
  });
});
