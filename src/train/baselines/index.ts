import type { Recommender } from '../../core/eval/model.ts';
import { GfcfRecommender } from '../gfcf/index.ts';
import { LightGcnRecommender } from '../lightgcn/index.ts';
import { BprRecommender } from './bpr.ts';
import { ItemKnnRecommender } from './item-knn.ts';
import { PopularityRecommender } from './popularity.ts';

export { type BprOptions, BprRecommender } from './bpr.ts';
export { type ItemKnnOptions, ItemKnnRecommender } from './item-knn.ts';
export { PopularityRecommender } from './popularity.ts';

export const BASELINES = ['pop', 'itemknn', 'bpr', 'lightgcn', 'gfcf'] as const;
export type BaselineName = (typeof BASELINES)[number];

export function createBaseline(name: BaselineName, seed = 1): Recommender {
  switch (name) {
    case 'pop':
      return new PopularityRecommender();
    case 'itemknn':
      return new ItemKnnRecommender();
    case 'bpr':
      return new BprRecommender({ seed });
    case 'lightgcn':
      return new LightGcnRecommender({ seed });
    case 'gfcf':
      return new GfcfRecommender({ seed });
  }
}
