import type { BundleLearning, LearningSetting } from '../bundle/index.ts';
import { DEFAULT_LEARNED_WEIGHT, DEFAULT_LEARNING_OPTIONS, type LearningOptions } from './options.ts';

/** How the device learns on one bundle: whether, with which settings, at which weight in the query, and why. */
export interface LearningChoice {
  learn: boolean;
  options: LearningOptions;
  /** The learned embedding's long-term weight in the retrieval query. */
  weight: number;
  /** The setting's name: the grid row the bundle chose, or `built-in` for a bundle without a choice. */
  name: string;
  /** In words, where the choice comes from (the engine's `status().learning.reason`). */
  reason: string;
}

/** A grid row, without its metrics: what a candidate setting is. */
export type LearningCandidate = Omit<LearningSetting, 'metrics'>;

/** The choice a candidate setting stands for (the built-in defaults under its overrides). */
export function learningChoiceOf(candidate: LearningCandidate, reason: string): LearningChoice {
  return {
    learn: candidate.learn,
    options: { ...DEFAULT_LEARNING_OPTIONS, ...candidate.options },
    weight: candidate.weight ?? DEFAULT_LEARNED_WEIGHT,
    name: candidate.name,
    reason,
  };
}

/**
 * The learning a bundle's manifest chose on its validation window; a bundle from before the choice (no
 * `learning` block) gets the built-in defaults (DEFAULT_LEARNING_OPTIONS, learning on).
 */
export function bundleLearningChoice(learning: BundleLearning | undefined): LearningChoice {
  const row = learning?.grid.find((r) => r.name === learning.chosen);
  if (!learning || !row)
    return learningChoiceOf({ name: 'built-in', learn: true }, 'built-in defaults (the bundle chose none)');
  return learningChoiceOf(
    row,
    `chosen ${row.learn ? `"${row.name}"` : 'off'} on validation (${learning.metric} ${row.metrics[learning.metric]})`,
  );
}
