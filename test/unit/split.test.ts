import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/core/dataset.ts';
import { buildSplit, type EvalSplit } from '../../src/core/eval/split.ts';
import { ACTION_CODE, type Action } from '../../src/core/events.ts';
import { IdIndex } from '../../src/core/ids.ts';
import {
  actionName,
  type InteractionLog,
  InteractionLogBuilder,
  type UserItems,
  userItemsOf,
} from '../../src/core/interactions.ts';

type Row = [user: string, item: string, action: Action, ts: number];

function makeLog(rows: Row[], users: IdIndex, items: IdIndex): InteractionLog {
  const builder = new InteractionLogBuilder();
  for (const [user, item, action, ts] of rows) {
    builder.push(users.intern(user), items.intern(item), ACTION_CODE[action], ts);
  }
  return builder.build();
}

function makeDataset(rows: Row[], options: Partial<Dataset> = {}): Dataset {
  const users = options.users ?? new IdIndex();
  const items = options.items ?? new IdIndex();
  return {
    name: 'hand-made',
    format: 'events',
    users,
    items,
    log: makeLog(rows, users, items),
    hasTimestamps: true,
    ...options,
  };
}

/** A CSR table as `{ userId: [itemId, ...] }`, users without items left out. */
function byUser(table: UserItems, dataset: Dataset): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let u = 0; u < dataset.users.size; u++) {
    const items = Array.from(userItemsOf(table, u), (i) => dataset.items.idOf(i));
    if (items.length > 0) out[dataset.users.idOf(u)] = items;
  }
  return out;
}

/** A log's rows as tuples, sorted by user then time, for order-independent comparison. */
function rowsOf(log: InteractionLog, dataset: Dataset): Row[] {
  const rows: Row[] = [];
  for (let r = 0; r < log.length; r++) {
    rows.push([
      dataset.users.idOf(log.user[r]),
      dataset.items.idOf(log.item[r]),
      actionName(log.action[r]),
      log.ts[r],
    ]);
  }
  return rows.sort((a, b) => a[0].localeCompare(b[0]) || a[3] - b[3]);
}

function expectConsistent(split: EvalSplit, dataset: Dataset): void {
  expect(split.numUsers).toBe(dataset.users.size);
  expect(split.numItems).toBe(dataset.items.size);
  for (const table of [split.train, split.valid, split.test])
    expect(table.offsets.length).toBe(split.numUsers + 1);
}

describe('buildSplit: sasrec leave-last-out', () => {
  // Rows are interleaved across users and partly out of time order, as real logs are.
  const rows: Row[] = [
    ['A', 'i1', 'impression', 1],
    ['A', 'i1', 'click', 2], // A's first positive: i1
    ['B', 'i2', 'click', 10],
    ['A', 'i1', 'save', 3], // repeat engagement with i1: counts once
    ['A', 'i2', 'hide', 4], // a hide: not a positive by default
    ['C', 'i5', 'click', 30], // C's rows arrive out of time order
    ['A', 'i3', 'click', 5],
    ['A', 'i4', 'impression', 6],
    ['C', 'i1', 'click', 20],
    ['A', 'i4', 'closeup', 7], // A's second-to-last positive: validation
    ['B', 'i3', 'save', 11],
    ['A', 'i5', 'save', 8], // A's last positive: test
    ['C', 'i2', 'click', 25],
    ['A', 'i1', 'click', 9], // repeat of i1 after the held-out items: not a new positive
    ['B', 'i4', 'hide', 12],
    ['D', 'i1', 'impression', 5], // D never engages
  ];
  const dataset = makeDataset(rows);

  it('holds out the last positive for test and the one before for validation', () => {
    const split = buildSplit(dataset, { protocol: 'sasrec' });
    expectConsistent(split, dataset);
    expect(split.protocol).toBe('sasrec');
    // A's engaged items, first engagement each, in time order: i1 (2), i3 (5), i4 (7), i5 (8).
    // C's, sorted by time: i1 (20), i2 (25), i5 (30). B has 2 positives (i2, i3): train only. D has none.
    expect(byUser(split.train, dataset)).toEqual({ A: ['i1', 'i3'], B: ['i2', 'i3'], C: ['i1'] });
    expect(byUser(split.valid, dataset)).toEqual({ A: ['i4'], C: ['i2'] });
    expect(byUser(split.test, dataset)).toEqual({ A: ['i5'], C: ['i5'] });
  });

  it('cuts the training log at the first held-out event, keeping impressions and hides before it', () => {
    const split = buildSplit(dataset, { protocol: 'sasrec' });
    expect(rowsOf(split.trainLog, dataset)).toEqual([
      // A: everything before the closeup of i4 at t=7.
      ['A', 'i1', 'impression', 1],
      ['A', 'i1', 'click', 2],
      ['A', 'i1', 'save', 3],
      ['A', 'i2', 'hide', 4],
      ['A', 'i3', 'click', 5],
      ['A', 'i4', 'impression', 6],
      // B: train-only user, every event.
      ['B', 'i2', 'click', 10],
      ['B', 'i3', 'save', 11],
      ['B', 'i4', 'hide', 12],
      // C: before i2 at t=25.
      ['C', 'i1', 'click', 20],
      // D: its impression.
      ['D', 'i1', 'impression', 5],
    ]);
  });

  it("counts hides as positives with positives: 'all' (impressions never)", () => {
    const split = buildSplit(dataset, { protocol: 'sasrec', positives: 'all' });
    // A: i1 (2), i2 (hide, 4), i3 (5), i4 (7), i5 (8). B: i2, i3, i4 (hide, 12) → now 3 positives.
    expect(byUser(split.train, dataset)).toEqual({ A: ['i1', 'i2', 'i3'], B: ['i2'], C: ['i1'] });
    expect(byUser(split.valid, dataset)).toEqual({ A: ['i4'], B: ['i3'], C: ['i2'] });
    expect(byUser(split.test, dataset)).toEqual({ A: ['i5'], B: ['i4'], C: ['i5'] });
    expect(rowsOf(split.trainLog, dataset).filter((r) => r[0] === 'B')).toEqual([['B', 'i2', 'click', 10]]);
    expect(split.hasTimestamps).toBe(true);
  });

  it('passes the catalog and timestamp flag through', () => {
    const catalog = { titles: ['a', 'b', 'c', 'd', 'e'], topics: [[], [], [], [], []] };
    const split = buildSplit({ ...dataset, catalog, hasTimestamps: false }, { protocol: 'sasrec' });
    expect(split.catalog).toBe(catalog);
    expect(split.hasTimestamps).toBe(false);
  });
});

/** `n` clicks of user `user` on items `${prefix}0..` at times `start`, `start + 1`, ... */
const clicks = (user: string, n: number, start: number, prefix = 'x'): Row[] =>
  Array.from({ length: n }, (_, k): Row => [user, `${prefix}${k}`, 'click', start + k]);

describe('buildSplit: full chronological hold-out', () => {
  const rows: Row[] = [
    ...clicks('ten', 10, 100),
    ...clicks('five', 5, 200),
    ...clicks('three', 3, 300),
    ...clicks('two', 2, 400),
    ['ten', 'x3', 'save', 150], // a repeat: does not add a positive
    ['ten', 'late', 'impression', 105], // an impression between x4 and x6, kept only if before the cut
  ];
  const dataset = makeDataset(rows);

  it('holds out 20% for test and 10% for validation by default', () => {
    const split = buildSplit(dataset, { protocol: 'full' });
    expectConsistent(split, dataset);
    expect(split.protocol).toBe('full');
    // ten: nTest = round(10·0.2) = 2, nValid = round(10·0.1) = 1, nTrain = 10 − 3 = 7.
    // five: nTest = round(1.0) = 1, nValid = round(0.5) = 1, nTrain = 3.
    // three: nTest = round(0.6) = 1, nValid = max(1, round(0.3) = 0) = 1, nTrain = 1.
    // two: fewer than 3 positives → train only.
    expect(byUser(split.train, dataset)).toEqual({
      ten: ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6'],
      five: ['x0', 'x1', 'x2'],
      three: ['x0'],
      two: ['x0', 'x1'],
    });
    expect(byUser(split.valid, dataset)).toEqual({ ten: ['x7'], five: ['x3'], three: ['x1'] });
    expect(byUser(split.test, dataset)).toEqual({ ten: ['x8', 'x9'], five: ['x4'], three: ['x2'] });
    // ten's log is cut at x7 (t = 107): the impression at 105 stays, the repeat save at 150 goes.
    const ten = rowsOf(split.trainLog, dataset).filter((r) => r[0] === 'ten');
    expect(ten.map((r) => r[3])).toEqual([100, 101, 102, 103, 104, 105, 105, 106]);
    expect(ten.some((r) => r[2] === 'save')).toBe(false);
    expect(rowsOf(split.trainLog, dataset).filter((r) => r[0] === 'two')).toHaveLength(2);
  });

  it('follows custom fractions', () => {
    const split = buildSplit(dataset, { protocol: 'full', testFraction: 0.4, validFraction: 0.3 });
    // ten: nTest = 4, nValid = 3, nTrain = 3. five: nTest = round(2) = 2, nValid = round(1.5) = 2, nTrain = 1.
    expect(byUser(split.train, dataset).ten).toEqual(['x0', 'x1', 'x2']);
    expect(byUser(split.valid, dataset).ten).toEqual(['x3', 'x4', 'x5']);
    expect(byUser(split.test, dataset).ten).toEqual(['x6', 'x7', 'x8', 'x9']);
    expect(byUser(split.train, dataset).five).toEqual(['x0']);
    expect(byUser(split.valid, dataset).five).toEqual(['x1', 'x2']);
    expect(byUser(split.test, dataset).five).toEqual(['x3', 'x4']);
  });

  it.each([0, 0.5, -0.1, Number.NaN])('rejects a fraction of %d', (f) => {
    expect(() => buildSplit(dataset, { protocol: 'full', testFraction: f })).toThrow(
      `split fractions must be in (0, 0.5), got ${f}`,
    );
    expect(() => buildSplit(dataset, { protocol: 'full', validFraction: f })).toThrow(/split fractions/);
    expect(() => buildSplit(dataset, { protocol: 'temporal', windowFraction: f })).toThrow(/split fractions/);
  });
});

describe('buildSplit: temporal windows', () => {
  // Times span 0 .. 1000 ms; windowFraction 0.1 → test from 900 on, validation from 800 to 900.
  const rows: Row[] = [
    ['A', 'a', 'click', 0],
    ['A', 'b', 'hide', 300],
    ['A', 'c', 'impression', 790],
    ['A', 'c', 'save', 799.5], // train (< 800)
    ['A', 'd', 'click', 800], // valid (800 ≤ t < 900)
    ['A', 'a', 'save', 850], // a repeat of a train positive: not a new validation positive
    ['A', 'e', 'click', 899],
    ['A', 'f', 'closeup', 900], // test (t ≥ 900)
    ['A', 'g', 'impression', 950], // impressions are never positives
    ['B', 'e', 'click', 100],
    ['B', 'f', 'save', 1000],
    ['C', 'g', 'click', 880], // C has nothing in training
  ];
  const dataset = makeDataset(rows);

  it('splits positives by the time windows, and the training log at the validation start', () => {
    const split = buildSplit(dataset, { protocol: 'temporal' });
    expectConsistent(split, dataset);
    expect(split.protocol).toBe('temporal');
    expect(byUser(split.train, dataset)).toEqual({ A: ['a', 'c'], B: ['e'] });
    expect(byUser(split.valid, dataset)).toEqual({ A: ['d', 'e'], C: ['g'] });
    expect(byUser(split.test, dataset)).toEqual({ A: ['f'], B: ['f'] });
    expect(rowsOf(split.trainLog, dataset)).toEqual([
      ['A', 'a', 'click', 0],
      ['A', 'b', 'hide', 300],
      ['A', 'c', 'impression', 790],
      ['A', 'c', 'save', 799.5],
      ['B', 'e', 'click', 100],
    ]);
    expect(split.description).toContain('1970-01-01T00:00:00.800Z');
  });

  it('widens the windows with windowFraction', () => {
    // windowFraction 0.25: test from 750, validation from 500.
    const split = buildSplit(dataset, { protocol: 'temporal', windowFraction: 0.25 });
    expect(byUser(split.train, dataset)).toEqual({ A: ['a'], B: ['e'] });
    expect(byUser(split.valid, dataset)).toEqual({});
    expect(byUser(split.test, dataset)).toEqual({ A: ['c', 'd', 'e', 'f'], B: ['f'], C: ['g'] });
    expect(split.trainLog.length).toBe(3);
  });

  it('counts hides with positives: all', () => {
    const split = buildSplit(dataset, { protocol: 'temporal', positives: 'all' });
    expect(byUser(split.train, dataset).A).toEqual(['a', 'b', 'c']);
  });

  it('throws on data without timestamps', () => {
    expect(() =>
      buildSplit({ ...dataset, name: 'games', hasTimestamps: false }, { protocol: 'temporal' }),
    ).toThrow(/temporal protocol needs timestamps, and games has none/);
  });
});

describe('buildSplit: a split given with the data', () => {
  const users = new IdIndex();
  const items = new IdIndex();
  const train: Row[] = [
    ['u0', 'i0', 'click', 0],
    ['u0', 'i1', 'click', 1],
    ['u0', 'i2', 'click', 2],
    ['u1', 'i3', 'click', 3],
  ];
  const trainLog = makeLog(train, users, items);
  const test = makeLog(
    [
      ['u0', 'i4', 'click', 4],
      ['u0', 'i5', 'click', 5],
      ['u1', 'i0', 'click', 6],
      ['u2', 'i1', 'click', 7], // u2 has no training rows
    ],
    users,
    items,
  );
  const negatives = new Map([[0, Int32Array.from([3])]]);
  const dataset: Dataset = {
    name: 'given',
    format: 'lightgcn',
    users,
    items,
    log: trainLog,
    hasTimestamps: false,
    given: { test, negatives },
  };

  it('full: every test item; the last training positive becomes validation', () => {
    const split = buildSplit(dataset, { protocol: 'full' });
    expectConsistent(split, dataset);
    expect(split.protocol).toBe('full');
    expect(byUser(split.train, dataset)).toEqual({ u0: ['i0', 'i1'], u1: ['i3'] });
    expect(byUser(split.valid, dataset)).toEqual({ u0: ['i2'] });
    // u1 has one training positive: it stays in train; u2 has none, so no test either.
    expect(byUser(split.test, dataset)).toEqual({ u0: ['i4', 'i5'], u1: ['i0'] });
    expect(rowsOf(split.trainLog, dataset)).toEqual([
      ['u0', 'i0', 'click', 0],
      ['u0', 'i1', 'click', 1],
      ['u1', 'i3', 'click', 3],
    ]);
    expect(split.givenNegatives).toBe(negatives);
  });

  it('sasrec: the last test item only, with the given negatives', () => {
    const split = buildSplit(dataset, { protocol: 'sasrec' });
    expect(split.protocol).toBe('sasrec');
    expect(byUser(split.test, dataset)).toEqual({ u0: ['i5'], u1: ['i0'] });
    expect(byUser(split.valid, dataset)).toEqual({ u0: ['i2'] });
    expect(split.givenNegatives?.get(0)).toEqual(Int32Array.from([3]));
  });

  it('temporal ignores the given split (and needs timestamps)', () => {
    expect(() => buildSplit(dataset, { protocol: 'temporal' })).toThrow(/needs timestamps/);
  });
});

describe('interactedItems', () => {
  it('lists only items that occur in the log when the catalog holds items nobody touched', async () => {
    const { IdIndex } = await import('../../src/core/ids.ts');
    const { InteractionLogBuilder } = await import('../../src/core/interactions.ts');
    const { buildSplit } = await import('../../src/core/eval/split.ts');
    const users = IdIndex.from(['a', 'b']);
    const items = IdIndex.from(['x', 'y', 'z', 'cold']);
    const log = new InteractionLogBuilder();
    for (const [u, i, t] of [
      [0, 0, 1],
      [0, 1, 2],
      [0, 2, 3],
      [1, 2, 1],
      [1, 0, 2],
      [1, 1, 3],
    ])
      log.push(u, i, 1, t);
    const split = buildSplit(
      { name: 't', format: 'events', users, items, log: log.build(), hasTimestamps: true },
      { protocol: 'sasrec' },
    );
    expect(split.numItems).toBe(4);
    expect(Array.from(split.interactedItems!)).toEqual([0, 1, 2]);
  });
});

describe('validation-period events', () => {
  it('hold what happens between the first validation positive and the test positive', async () => {
    const { IdIndex } = await import('../../src/core/ids.ts');
    const { InteractionLogBuilder } = await import('../../src/core/interactions.ts');
    const { buildSplit } = await import('../../src/core/eval/split.ts');
    const users = IdIndex.from(['a']);
    const items = IdIndex.from(['p0', 'p1', 'p2', 'p3', 'p4']);
    const log = new InteractionLogBuilder();
    // ts: 1 click p0, 2 click p1, 3 impression p4, 4 click p2 (valid), 5 hide p4, 6 click p3 (test), 7 save p3
    for (const [i, a, t] of [
      [0, 1, 1],
      [1, 1, 2],
      [4, 0, 3],
      [2, 1, 4],
      [4, 4, 5],
      [3, 1, 6],
      [3, 3, 7],
    ]) {
      log.push(0, i, a, t);
    }
    const split = buildSplit(
      { name: 't', format: 'events', users, items, log: log.build(), hasTimestamps: true },
      { protocol: 'sasrec' },
    );
    expect(Array.from(split.trainLog.ts)).toEqual([1, 2, 3]);
    expect(Array.from(split.validLog.ts)).toEqual([4, 5]);
    expect(Array.from(split.validLog.action)).toEqual([1, 4]);
  });
});
