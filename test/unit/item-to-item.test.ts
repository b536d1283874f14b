import { describe, expect, it } from 'vitest';
import { evaluateItemToItem, type ItemSimilarity } from '../../src/core/eval/item-to-item.ts';
import type { EvalSplit } from '../../src/core/eval/split.ts';
import { InteractionLogBuilder, userItemsFromLists } from '../../src/core/interactions.ts';

function split(train: number[][], valid: number[][], test: number[][], numItems: number): EvalSplit {
  const empty = new InteractionLogBuilder().build();
  return {
    protocol: 'sasrec',
    numUsers: train.length,
    numItems,
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: userItemsFromLists(test),
    trainLog: empty,
    validLog: empty,
    hasTimestamps: false,
    description: 'hand-made',
  };
}

/** Similarity = a fixed score per item, the same whatever the query: ranking is by item id descending. */
const byIndex: ItemSimilarity = {
  name: 'by-index',
  itemScores(_item, out) {
    for (let i = 0; i < out.length; i++) out[i] = i;
  },
};

describe('evaluateItemToItem', () => {
  it('queries with the last history item and ranks the held-out item among all others', () => {
    // 20 items; ranking 19, 18, 17, … with the query removed.
    const s = split([[1, 2], [5], [7]], [[19], [3], [7]], [[18], [10], [0]], 20);
    // test stage: history = train + valid
    // user 0: query 19 (removed), target 18 → rank 0 → HR@10 1, MRR 1, NDCG 1
    // user 1: query 3, target 10 → ahead: 19..11 = 9 items → rank 9 → HR@10 1, MRR 1/10, NDCG 1/log2(11)
    // user 2: query 7 == … valid 7, target 0 → ahead: 19 items minus query 7 = 18 → rank 18 → HR@10 0, MRR 1/19
    const result = evaluateItemToItem(byIndex, s, 'test', { ks: [10] });
    expect(result.users).toBe(3);
    expect(result.metrics['HR@10']).toBeCloseTo(2 / 3, 12);
    expect(result.metrics.MRR).toBeCloseTo((1 + 1 / 10 + 1 / 19) / 3, 12);
    expect(result.metrics['NDCG@10']).toBeCloseTo((1 + 1 / Math.log2(11)) / 3, 6);
  });

  it('skips users whose target equals the query and uses train only at the validation stage', () => {
    const s = split([[4, 6]], [[6]], [[9]], 10);
    // valid stage: query = 6 (last train item), target = valid 6 → skipped
    expect(evaluateItemToItem(byIndex, s, 'valid').users).toBe(0);
    // test stage: query = 6 (valid), target 9 → rank 0
    expect(evaluateItemToItem(byIndex, s, 'test').metrics.MRR).toBe(1);
  });
});
