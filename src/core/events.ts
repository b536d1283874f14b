import { type EventProblem, EventValidationError } from './event-errors.ts';
/** The five actions every data set maps its signals onto (DESIGN.md, "Event"). */
export const ACTIONS = ['impression', 'click', 'closeup', 'save', 'hide'] as const;
export type Action = (typeof ACTIONS)[number];

/** Numeric codes used by the columnar interaction log; the order of ACTIONS is the contract. */
export const ACTION_CODE: Readonly<Record<Action, number>> = {
  impression: 0,
  click: 1,
  closeup: 2,
  save: 3,
  hide: 4,
};

/** An interaction as stored in the local log and uploaded to the sync server. */
export interface Event {
  /** Client-made unique id; the server deduplicates on it. */
  id: string;
  /** The user who acted (the recommender's `userId`). */
  userId: string;
  /** The item acted on, as the bundle's catalog names it. */
  itemId: string;
  /** What the user did: `impression`, `click`, `closeup`, `save` or `hide`. */
  action: Action;
  /** Milliseconds since the Unix epoch. */
  ts: number;
  /** Where in the app it happened (e.g. `home`), up to 64 characters. */
  surface?: string;
  /** How long the item was looked at, in milliseconds (at most a day). */
  dwellMs?: number;
}

const REQUIRED_FIELDS = ['id', 'userId', 'itemId', 'action', 'ts'] as const;
const KNOWN_FIELDS = new Set<string>([...REQUIRED_FIELDS, 'surface', 'dwellMs']);
const MAX_ID_LENGTH = 256;
/** Limits shared with the sync server's schema, so an event valid on the device is valid there. */
export const EVENT_LIMITS = {
  idLength: MAX_ID_LENGTH,
  surfaceLength: 64,
  /** The largest time a JS Date can hold, in ms. */
  ts: 8.64e15,
  /** A day, in ms. */
  dwellMs: 8.64e7,
} as const;

export { type EventProblem, EventValidationError, formatProblem } from './event-errors.ts';

function checkId(value: unknown, field: string, problems: EventProblem[], row?: number): void {
  if (typeof value !== 'string') {
    problems.push({ row, field, message: `must be a string, got ${describe(value)}` });
  } else if (value.length === 0 || value.length > MAX_ID_LENGTH) {
    problems.push({ row, field, message: `must be 1 to ${MAX_ID_LENGTH} characters long` });
  } else checkText(value, field, problems, row);
}

/** A UTF-16 code unit of a surrogate pair standing alone: it has no UTF-8 encoding. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses what the sync server refuses in any string field (and what PostgreSQL cannot store): U+0000,
 * and lone surrogates, which have no UTF-8 form (SQLite would store invalid UTF-8, PostgreSQL refuses).
 */
function checkText(value: string, field: string, problems: EventProblem[], row?: number): void {
  const nul = value.indexOf('\u0000');
  if (nul >= 0)
    problems.push({ row, field, message: `must not contain the NUL character (U+0000, at index ${nul})` });
  const lone = LONE_SURROGATE.exec(value);
  if (lone)
    problems.push({
      row,
      field,
      message: `must be valid Unicode: a lone surrogate U+${lone[0].charCodeAt(0).toString(16).toUpperCase()} at index ${lone.index}`,
    });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string'
    ? `"${value.slice(0, 40)}"`
    : `${typeof value} ${String(value).slice(0, 40)}`;
}

/**
 * Lists every problem of one candidate event: missing or unknown fields, wrong types, out-of-range values,
 * strings the server refuses (NUL, lone surrogates). Unknown fields are problems, not silently dropped, so a client typo never loses data unnoticed.
 */
export function eventProblems(candidate: unknown, row?: number): EventProblem[] {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) {
    return [{ row, field: '(event)', message: `must be a JSON object, got ${describe(candidate)}` }];
  }
  const record = candidate as Record<string, unknown>;
  const problems: EventProblem[] = [];
  for (const field of REQUIRED_FIELDS) {
    if (!(field in record)) problems.push({ row, field, message: 'is required' });
  }
  for (const field of Object.keys(record)) {
    if (!KNOWN_FIELDS.has(field)) problems.push({ row, field, message: 'is not a known event field' });
  }
  if ('id' in record) checkId(record.id, 'id', problems, row);
  if ('userId' in record) checkId(record.userId, 'userId', problems, row);
  if ('itemId' in record) checkId(record.itemId, 'itemId', problems, row);
  if ('action' in record && !ACTIONS.includes(record.action as Action)) {
    problems.push({
      row,
      field: 'action',
      message: `must be one of ${ACTIONS.join('|')}, got ${describe(record.action)}`,
    });
  }
  if ('ts' in record) {
    const ts = record.ts;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) {
      problems.push({
        row,
        field: 'ts',
        message: `must be a non-negative number of milliseconds, got ${describe(ts)}`,
      });
    } else if (ts > EVENT_LIMITS.ts) {
      problems.push({ row, field: 'ts', message: `must be at most ${EVENT_LIMITS.ts} ms, got ${ts}` });
    }
  }
  if ('surface' in record && typeof record.surface !== 'string') {
    problems.push({ row, field: 'surface', message: `must be a string, got ${describe(record.surface)}` });
  } else if (typeof record.surface === 'string' && record.surface.length > EVENT_LIMITS.surfaceLength) {
    problems.push({
      row,
      field: 'surface',
      message: `must be at most ${EVENT_LIMITS.surfaceLength} characters long`,
    });
  } else if (typeof record.surface === 'string') checkText(record.surface, 'surface', problems, row);
  if ('dwellMs' in record) {
    const dwell = record.dwellMs;
    if (typeof dwell !== 'number' || !Number.isFinite(dwell) || dwell < 0) {
      problems.push({
        row,
        field: 'dwellMs',
        message: `must be a non-negative number, got ${describe(dwell)}`,
      });
    } else if (dwell > EVENT_LIMITS.dwellMs) {
      problems.push({
        row,
        field: 'dwellMs',
        message: `must be at most ${EVENT_LIMITS.dwellMs} ms (a day), got ${dwell}`,
      });
    }
  }
  return problems;
}

/** Returns the candidate typed as an Event, or throws an EventValidationError naming each field and row. */
export function validateEvent(candidate: unknown, row?: number): Event {
  const problems = eventProblems(candidate, row);
  if (problems.length > 0) throw new EventValidationError(problems);
  return candidate as Event;
}

/** A positive action is engagement worth predicting; impressions are exposure and hides are negative. */
export function isPositiveAction(action: Action): boolean {
  return action === 'click' || action === 'closeup' || action === 'save';
}
