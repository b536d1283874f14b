import { describe, expect, it } from 'vitest';
import { mmrSelect } from '../../src/core/ranking/index.ts';

// Three candidates: 0 and 1 point the same way, 2 is orthogonal to both.
const embeddings = Float32Array.from([1, 0, 0.99, 0.141, 0, 1]);

describe('mmrSelect', () => {
  it('with λ = 1 is the plain ranking, ties by the earlier candidate', () => {
    expect(Array.from(mmrSelect([0.5, 0.9, 0.5], embeddings, 2, 3, 1))).toEqual([1, 0, 2]);
  });

  it('trades relevance for variety: a near-duplicate of the first pick loses to a different item', () => {
    // Relevance scaled to [0, 1]: [1, 0.8, 0]. Step 2 (λ = 0.5): candidate 1 scores 0.5·0.8 − 0.5·cos(0, 1)
    // = 0.4 − 0.5·0.99 < 0; candidate 2 scores 0.5·0 − 0.5·0 = 0, so it goes second.
    expect(Array.from(mmrSelect([1, 0.9, 0.5], embeddings, 2, 3, 0.5))).toEqual([0, 2, 1]);
    // With λ = 0.9 relevance wins again: 0.9·0.8 − 0.1·0.99 = 0.621 > 0.
    expect(Array.from(mmrSelect([1, 0.9, 0.5], embeddings, 2, 3, 0.9))).toEqual([0, 1, 2]);
  });

  it('returns at most the candidates it has', () => {
    expect(mmrSelect([1, 2], embeddings.subarray(0, 4), 2, 5, 0.7)).toHaveLength(2);
    expect(mmrSelect([], new Float32Array(0), 2, 5, 0.7)).toHaveLength(0);
  });
});
