import { describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.ts';
import { topK } from '../../src/core/topk.ts';

/** The reference: sort every finite-or-+Infinity index by score descending, then index ascending. */
function bruteForce(scores: ArrayLike<number>, k: number): number[] {
  const indices: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] > Number.NEGATIVE_INFINITY) indices.push(i);
  indices.sort((a, b) => (scores[a] === scores[b] ? a - b : scores[a] > scores[b] ? -1 : 1));
  return indices.slice(0, Math.max(0, k));
}

describe('topK', () => {
  it('returns the k highest scores, best first', () => {
    //            index: 0    1    2    3    4    5
    const scores = [0.1, 0.9, 0.3, 0.7, 0.5, 0.2];
    expect(Array.from(topK(scores, 3))).toEqual([1, 3, 4]);
    expect(Array.from(topK(scores, 1))).toEqual([1]);
    expect(Array.from(topK(scores, 6))).toEqual([1, 3, 4, 2, 5, 0]);
  });

  it('returns an Int32Array', () => {
    expect(topK([1, 2, 3], 2)).toBeInstanceOf(Int32Array);
  });

  it('breaks ties by the lower index', () => {
    //            index: 0  1  2  3  4  5  6
    const scores = [1, 5, 3, 5, 3, 5, 0];
    // Three 5s at 1, 3, 5; two 3s at 2, 4.
    expect(Array.from(topK(scores, 2))).toEqual([1, 3]);
    expect(Array.from(topK(scores, 4))).toEqual([1, 3, 5, 2]);
    expect(Array.from(topK(scores, 7))).toEqual([1, 3, 5, 2, 4, 0, 6]);
    // All equal: the first k indices in order.
    expect(Array.from(topK(new Float32Array(10), 4))).toEqual([0, 1, 2, 3]);
  });

  it('keeps the lower index among ties even when the higher one arrives first in the heap', () => {
    // Fill the heap with k = 2 entries, then feed a tie of the weakest one: it must not replace it.
    expect(Array.from(topK([2, 1, 1, 1], 2))).toEqual([0, 1]);
    expect(Array.from(topK([1, 1, 2, 1], 2))).toEqual([2, 0]);
  });

  it('never returns -Infinity or NaN entries', () => {
    const scores = [Number.NaN, -Infinity, 2, Number.NaN, 1, -Infinity];
    expect(Array.from(topK(scores, 10))).toEqual([2, 4]);
    expect(Array.from(topK([Number.NaN, -Infinity], 3))).toEqual([]);
    // NaN must not block a later finite entry from entering a full heap.
    expect(Array.from(topK([Number.NaN, 0, Number.NaN, 3, -Infinity, 2], 2))).toEqual([3, 5]);
  });

  it('returns +Infinity entries first and handles very negative finite scores', () => {
    const scores = [-1e308, Infinity, 0, Infinity, -Number.MAX_VALUE];
    expect(Array.from(topK(scores, 5))).toEqual([1, 3, 2, 0, 4]);
  });

  it('returns everything it can when k > n', () => {
    expect(Array.from(topK([3, 1, 2], 10))).toEqual([0, 2, 1]);
    expect(Array.from(topK([], 5))).toEqual([]);
  });

  it('returns nothing for k = 0 or negative k', () => {
    expect(topK([3, 1, 2], 0).length).toBe(0);
    expect(topK([3, 1, 2], -4).length).toBe(0);
  });

  it('matches a brute-force sort on seeded random arrays with many ties', () => {
    const random = new Random(42);
    for (let trial = 0; trial < 300; trial++) {
      const n = random.int(200);
      const levels = 1 + random.int(6); // few distinct values: many ties
      const scores = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const r = random.next();
        scores[i] = r < 0.05 ? Number.NaN : r < 0.1 ? -Infinity : random.int(levels) - 2;
      }
      for (const k of [0, 1, 2, 5, 17, n, n + 3]) {
        expect(Array.from(topK(scores, k)), `trial ${trial}, n ${n}, k ${k}`).toEqual(bruteForce(scores, k));
      }
    }
  });

  it('matches a brute-force sort on continuous scores given as a plain array', () => {
    const random = new Random(7);
    const scores = Array.from({ length: 5000 }, () => random.normal());
    expect(Array.from(topK(scores, 100))).toEqual(bruteForce(scores, 100));
  });
});
