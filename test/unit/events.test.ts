import { describe, expect, it } from 'vitest';
import {
  ACTION_CODE,
  ACTIONS,
  EVENT_LIMITS,
  EventValidationError,
  eventProblems,
  formatProblem,
  isPositiveAction,
  validateEvent,
} from '../../src/core/events.ts';

const valid = () => ({
  id: 'e-1',
  userId: 'u-1',
  itemId: 'i-1',
  action: 'save',
  ts: 1_700_000_000_000,
});

/** The (field, row) pairs of every problem, for compact assertions. */
const located = (candidate: unknown, row?: number) =>
  eventProblems(candidate, row).map((p) => ({ field: p.field, row: p.row }));

describe('validateEvent', () => {
  it('passes a valid event through unchanged, with and without the optional fields', () => {
    const event = valid();
    expect(eventProblems(event)).toEqual([]);
    expect(validateEvent(event)).toBe(event);
    const full = { ...valid(), surface: 'home', dwellMs: 1250 };
    expect(eventProblems(full, 3)).toEqual([]);
    expect(validateEvent(full, 3)).toBe(full);
    // Every action is accepted; ts 0 and dwellMs 0 are at the boundary and valid.
    for (const action of ACTIONS)
      expect(eventProblems({ ...valid(), action, ts: 0, dwellMs: 0 })).toEqual([]);
  });

  it('throws an EventValidationError whose message names the field and the row', () => {
    const candidate: Record<string, unknown> = { ...valid(), action: 'like' };
    let caught: unknown;
    try {
      validateEvent(candidate, 7);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EventValidationError);
    const error = caught as EventValidationError;
    expect(error.name).toBe('EventValidationError');
    expect(error.message).toBe(
      'row 7: action: must be one of impression|click|closeup|save|hide, got "like"',
    );
    expect(error.problems).toEqual([{ row: 7, field: 'action', message: expect.any(String) }]);
  });

  it('joins several problems in one message, each with its row', () => {
    const candidate = { id: 'e', userId: 'u', itemId: 'i', action: 'save', ts: -1, extra: 1 };
    expect(() => validateEvent(candidate, 12)).toThrow(
      /^row 12: extra: is not a known event field; row 12: ts: must be a non-negative number of milliseconds/,
    );
  });

  it('omits the row prefix when no row is given', () => {
    expect(() => validateEvent({ ...valid(), ts: 'now' })).toThrow(
      'ts: must be a non-negative number of milliseconds, got "now"',
    );
    expect(formatProblem({ field: 'id', message: 'is required' })).toBe('id: is required');
    expect(formatProblem({ row: 2, field: 'id', message: 'is required' })).toBe('row 2: id: is required');
  });
});

describe('eventProblems', () => {
  it.each(['id', 'userId', 'itemId', 'action', 'ts'])(
    'reports a missing %s with its field and row',
    (field) => {
      const candidate: Record<string, unknown> = valid();
      delete candidate[field];
      const problems = eventProblems(candidate, 4);
      expect(problems).toEqual([{ row: 4, field, message: 'is required' }]);
    },
  );

  it('reports every missing field of an empty object', () => {
    expect(located({}, 1)).toEqual([
      { field: 'id', row: 1 },
      { field: 'userId', row: 1 },
      { field: 'itemId', row: 1 },
      { field: 'action', row: 1 },
      { field: 'ts', row: 1 },
    ]);
  });

  it('reports unknown fields instead of dropping them', () => {
    const problems = eventProblems({ ...valid(), userID: 'typo', score: 3 }, 9);
    expect(problems).toEqual([
      { row: 9, field: 'userID', message: 'is not a known event field' },
      { row: 9, field: 'score', message: 'is not a known event field' },
    ]);
  });

  it.each([
    ['id', 42],
    ['userId', null],
    ['itemId', ['i-1']],
    ['id', ''],
    ['userId', 'x'.repeat(257)],
    ['surface', 3],
    ['ts', '1700000000000'],
    ['ts', null],
    ['dwellMs', '120'],
  ])('reports a wrong type or value of %s (%j)', (field, value) => {
    expect(located({ ...valid(), [field]: value }, 5)).toEqual([{ field, row: 5 }]);
  });

  it('accepts ids at the 256-character limit', () => {
    expect(eventProblems({ ...valid(), itemId: 'x'.repeat(256) })).toEqual([]);
  });

  it.each(['like', 'Save', '', 3])('reports a bad action %j', (action) => {
    const problems = eventProblems({ ...valid(), action }, 2);
    expect(problems).toHaveLength(1);
    expect(problems[0].field).toBe('action');
    expect(problems[0].row).toBe(2);
    expect(problems[0].message).toMatch(/^must be one of impression\|click\|closeup\|save\|hide, got /);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('reports ts = %d', (ts) => {
    const problems = eventProblems({ ...valid(), ts }, 8);
    expect(problems).toEqual([
      {
        row: 8,
        field: 'ts',
        message: `must be a non-negative number of milliseconds, got number ${ts}`,
      },
    ]);
  });

  it.each([-5, Number.NaN, Number.NEGATIVE_INFINITY])('reports dwellMs = %d', (dwellMs) => {
    expect(eventProblems({ ...valid(), dwellMs }, 6)).toEqual([
      { row: 6, field: 'dwellMs', message: `must be a non-negative number, got number ${dwellMs}` },
    ]);
  });

  it.each([null, 'event', 42, [valid()]])('rejects a non-object candidate %j', (candidate) => {
    const problems = eventProblems(candidate, 3);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ row: 3, field: '(event)' });
    expect(problems[0].message).toMatch(/^must be a JSON object, got /);
  });

  it('holds the limits the sync server holds, so a recorded event is never refused there', () => {
    const at = (extra: Record<string, unknown>) =>
      eventProblems({ ...valid(), ...extra }).map((p) => p.message);
    expect(at({ surface: 'x'.repeat(64), dwellMs: 86_400_000, ts: 8.64e15 })).toEqual([]);
    expect(at({ surface: 'x'.repeat(65) })).toEqual(['must be at most 64 characters long']);
    expect(at({ dwellMs: 86_400_001 })).toEqual(['must be at most 86400000 ms (a day), got 86400001']);
    expect(at({ ts: 8.64e15 + 1 })).toEqual(['must be at most 8640000000000000 ms, got 8640000000000001']);
    expect(EVENT_LIMITS).toEqual({ idLength: 256, surfaceLength: 64, ts: 8.64e15, dwellMs: 8.64e7 });
  });

  it('refuses what the server refuses in every string field: NUL and lone surrogates, not valid pairs', () => {
    const at = (extra: Record<string, unknown>) =>
      eventProblems({ ...valid(), ...extra }).map((p) => `${p.field}: ${p.message}`);
    for (const field of ['id', 'userId', 'itemId', 'surface']) {
      expect(at({ [field]: 'a\u0000b' })).toEqual([
        `${field}: must not contain the NUL character (U+0000, at index 1)`,
      ]);
      expect(at({ [field]: 'ab\uD83D' })).toEqual([
        `${field}: must be valid Unicode: a lone surrogate U+D83D at index 2`,
      ]);
      expect(at({ [field]: '\uDE00x' })).toEqual([
        `${field}: must be valid Unicode: a lone surrogate U+DE00 at index 0`,
      ]);
      // A surrogate pair (an emoji), bidi controls and other odd but valid text are accepted.
      expect(at({ [field]: 'pin \uD83D\uDE00 \u202Eabc' })).toEqual([]);
    }
    expect(() => validateEvent({ ...valid(), itemId: 'x\u0000' })).toThrow(
      /itemId: must not contain the NUL/,
    );
  });

  it('names arrays and null in messages', () => {
    expect(eventProblems([], 1)[0].message).toBe('must be a JSON object, got an array');
    expect(eventProblems({ ...valid(), userId: null })[0].message).toBe('must be a string, got null');
  });

  it('leaves row undefined when not given', () => {
    expect(eventProblems({ ...valid(), ts: -3 })[0].row).toBeUndefined();
  });
});

describe('actions', () => {
  it('codes follow the order of ACTIONS', () => {
    ACTIONS.forEach((action, code) => {
      expect(ACTION_CODE[action]).toBe(code);
    });
  });

  it('click, closeup and save are positive; impression and hide are not', () => {
    expect(ACTIONS.filter(isPositiveAction)).toEqual(['click', 'closeup', 'save']);
  });
});
