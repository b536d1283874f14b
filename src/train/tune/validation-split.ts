import type { EvalSplit } from '../../core/eval/split.ts';

/** The parts of a split that belong to the test stage: its targets, the events before them, given negatives. */
const TEST_STAGE = ['test', 'validLog', 'givenNegatives'] as const;

export class TestStageAccessError extends Error {
  constructor(field: string) {
    super(`tuning never reads the test stage, yet split.${field} was read`);
    this.name = 'TestStageAccessError';
  }
}

/**
 * The split as tuning sees it: training data and validation targets only. The test stage's fields are
 * getters that throw, so no code path below tuning (fit, the validation scorer) can read test targets or
 * the validation-period events that only the test stage's history adds, even by mistake.
 */
export function validationStageOnly(split: EvalSplit): EvalSplit {
  const view = { ...split };
  for (const field of TEST_STAGE) delete view[field as keyof EvalSplit];
  for (const field of TEST_STAGE)
    Object.defineProperty(view, field, {
      enumerable: false,
      get: () => {
        throw new TestStageAccessError(field);
      },
    });
  return view;
}
