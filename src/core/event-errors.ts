/** The error of an invalid event, in a file of its own so that the SDK page imports no validator. */
import { EdgerecError } from './errors.ts';

/** One fault of an event: the field, what is wrong, and the input row when known. */
export interface EventProblem {
  /** 1-based row (line) of the input the event came from, when known. */
  row?: number;
  /** The event field at fault (`itemId`, `ts`, …), or `(event)` when the event is not an object. */
  field: string;
  /** What is wrong with it, in words. */
  message: string;
}

/** An event `record` (or an import) refused: code `INVALID_REQUEST`, every fault in `problems`. */
export class EventValidationError extends EdgerecError {
  /** Every fault found, in field order; the message joins them. */
  readonly problems: readonly EventProblem[];
  constructor(problems: readonly EventProblem[]) {
    super('INVALID_REQUEST', problems.map(formatProblem).join('; '));
    this.name = 'EventValidationError';
    this.problems = problems;
  }
}

/** One problem as a line: `row N: field: message` (the row only when known). */
export function formatProblem(problem: EventProblem): string {
  const where = problem.row === undefined ? '' : `row ${problem.row}: `;
  return `${where}${problem.field}: ${problem.message}`;
}
