import type { DecodedItemTable } from '../bundle/index.ts';
import { itemRows } from '../retrieval/index.ts';
import { type LearningEvent, type LearningExamples, learningExamples } from './examples.ts';
import type { LearningOptions } from './options.ts';
import { type LearnedEmbedding, learnEmbedding, type Tf } from './step.ts';

export interface LearningRun extends LearnedEmbedding {
  counts: LearningExamples['counts'];
}

/**
 * One learning run over a user's local events: the examples, their rows of the bundle's item table (decoded
 * to float32 — what retrieval scores against), the steps from `prior`. Undefined without a positive.
 */
export async function learnFromEvents(
  tf: Tf,
  table: DecodedItemTable,
  events: readonly LearningEvent[],
  prior: Float32Array | undefined,
  options: LearningOptions,
  onStep?: (step: number) => void | Promise<void>,
): Promise<LearningRun | undefined> {
  const examples = learningExamples(events, table.count, options);
  if (!examples) return undefined;
  const rows = itemRows(table, examples.items);
  const learned = await learnEmbedding(tf, examples, rows, prior, table.dim, options, onStep);
  return { ...learned, counts: examples.counts };
}
