/** The error of an invalid event, in a file of its own so that the SDK page imports no validator. */
import { EdgerecError } from './errors.ts';

/** One fault of an event: the field, what is wrong, and the input row when known. */
export interface EventProblem {
  /** 1-based row (line) of the input the event came from, when known. */
  row?: number;
  field: string;
  message: string;
}

export class EventValidationError extends EdgerecError {
  readonly problems: readonly EventProblem[];
  constructor(problems: readonly EventProblem[]) {
    super('INVALID_REQUEST', problems.map(formatProblem).join('; '));
    this.name = 'EventValidationError';
    this.problems = problems;
  }
}

export function formatProblem(problem: EventProblem): string {
  const where = problem.row === undefined ? '' : `row ${problem.row}: `;
  return `${where}${problem.field}: ${problem.message}`;
}
