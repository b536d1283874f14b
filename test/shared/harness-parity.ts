/**
 * One computation run in both Node (unit test) and Chromium (browser test): a seeded synthetic data set,
 * every protocol, two baselines. Both must reproduce test/fixtures/harness-parity.json exactly.
 */
import { evaluate, fitOnSplit } from '../../src/core/eval/harness.ts';
import { buildSplit, PROTOCOLS } from '../../src/core/eval/split.ts';
import { ItemKnnRecommender, PopularityRecommender } from '../../src/train/baselines/index.ts';
import { generateSynthetic } from '../../src/train/data/synthetic/index.ts';

export type ParityResults = Record<string, { users: number; metrics: Record<string, number> }>;

export async function computeParityResults(): Promise<ParityResults> {
  const dataset = generateSynthetic({ users: 150, items: 500, events: 15_000, boards: 50, seed: 11 });
  const results: ParityResults = {};
  for (const protocol of PROTOCOLS) {
    const split = buildSplit(dataset, { protocol });
    for (const model of [new PopularityRecommender(), new ItemKnnRecommender()]) {
      await fitOnSplit(model, split, { seed: 0 });
      const result = evaluate(model, split, 'test', { seed: 0, negatives: 50 });
      results[`${protocol}/${model.name}`] = { users: result.users, metrics: result.metrics };
    }
  }
  return results;
}
