import { evaluateItemToItem } from '../core/eval/item-to-item.ts';
import type { TrainingData } from '../core/eval/model.ts';
import type { EvalSplit } from '../core/eval/split.ts';
import { GnnRecommender } from './gnn/index.ts';
import { boardsFor, type NeighborTable, PinBoardGraph, sampleNeighbors } from './graph/index.ts';

/**
 * The PinSage graph of `data`: boards (the catalog's, or derived from co-engagement) → random walks with
 * restart → each item's top-T neighbours. `edgerec train` and the refit check build it the same way.
 */
export function sampleItemGraph(
  data: TrainingData,
  seed: number,
  onProgress?: (done: number, total: number) => void,
): Promise<NeighborTable> {
  return sampleNeighbors(PinBoardGraph.fromBoards(data.numItems, boardsFor(data)), { seed, onProgress });
}

/**
 * The GNN's model-selection score for a table: both metrics the item-to-item task is judged by (HR@10 +
 * MRR), on the validation stage's co-engagements of `users` sampled users.
 */
export function gnnValidation(
  split: EvalSplit,
  dim: number,
  seed: number,
  users: number,
): (table: Float32Array) => number {
  return (table) => {
    const { metrics } = evaluateItemToItem(GnnRecommender.fromTable(table, dim), split, 'valid', {
      sampleUsers: users,
      seed,
    });
    return metrics['HR@10'] + metrics.MRR;
  };
}
