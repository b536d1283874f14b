import type { Dataset, ItemCatalog } from '../dataset.ts';
import { InputError } from '../errors.ts';
import {
  filterLog,
  groupRowsByUser,
  type InteractionLog,
  NON_IMPRESSION_CODES,
  POSITIVE_CODES,
  type UserItems,
  userItemsFromLists,
} from '../interactions.ts';

export const PROTOCOLS = ['sasrec', 'full', 'temporal'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Which actions make an item a positive: engagement (click, closeup, save), or any action but an impression. */
export type PositiveSet = 'engaged' | 'all';

export interface SplitOptions {
  protocol: Protocol;
  positives?: PositiveSet;
  /** `full`: share of each user's positives held out for test (chronologically last). */
  testFraction?: number;
  /** `full`: share held out for validation, just before the test part. */
  validFraction?: number;
  /** `temporal`: length of the test window and of the validation window before it, as a share of the time span. */
  windowFraction?: number;
}

/**
 * One protocol's view of a data set. Models fit on `train` (and `trainLog`); the validation stage ranks
 * `valid` given `train`; the test stage ranks `test` given `train` followed by `valid`.
 */
export interface EvalSplit {
  protocol: Protocol;
  numUsers: number;
  numItems: number;
  train: UserItems;
  valid: UserItems;
  test: UserItems;
  /** Every event of the training period (impressions and hides too), for models that learn from them. */
  trainLog: InteractionLog;
  /** Every event of the validation period: what the test stage adds to a user's history. */
  validLog: InteractionLog;
  hasTimestamps: boolean;
  catalog?: ItemCatalog;
  /** Negatives that ship with the data (NCF); the `sasrec` protocol samples its own otherwise. */
  givenNegatives?: Map<number, Int32Array>;
  /**
   * Items that occur in the interactions, where some catalog items never do: sampled negatives come only
   * from these, as in the published protocols (a never-seen item is an easy negative). Absent when all occur.
   */
  interactedItems?: Int32Array;
  description: string;
}

interface PositiveRows {
  /** Per user, the rows of first engagements with each item, oldest first. */
  rows: Int32Array[];
  /** Per user, all rows (any action) in time order, for cutting the training log. */
  all: { offsets: Int32Array; rows: Int32Array };
}

/** First engagement with each item per user: repeated actions on one item (click, then save) count once. */
function positiveRows(log: InteractionLog, numUsers: number, positives: PositiveSet): PositiveRows {
  const codes = positives === 'all' ? NON_IMPRESSION_CODES : POSITIVE_CODES;
  const all = groupRowsByUser(log, numUsers);
  const rows: Int32Array[] = [];
  const seen = new Set<number>();
  for (let u = 0; u < numUsers; u++) {
    seen.clear();
    const mine: number[] = [];
    for (let i = all.offsets[u]; i < all.offsets[u + 1]; i++) {
      const r = all.rows[i];
      if (!codes.has(log.action[r]) || seen.has(log.item[r])) continue;
      seen.add(log.item[r]);
      mine.push(r);
    }
    rows.push(Int32Array.from(mine));
  }
  return { rows, all };
}

const itemsOf = (log: InteractionLog, rows: ArrayLike<number>): number[] =>
  Array.from(rows, (r) => log.item[r]);

/**
 * Cuts each user's events (in time order) at two rows: those before `firstHeldOut` are training, those
 * from it up to (not including) `firstTest` belong to the validation period. -1 means "no cut".
 */
function cutLogs(
  log: InteractionLog,
  all: PositiveRows['all'],
  firstHeldOut: Int32Array,
  firstTest: Int32Array,
): { trainLog: InteractionLog; validLog: InteractionLog } {
  const part = new Uint8Array(log.length).fill(2);
  for (let u = 0; u + 1 < all.offsets.length; u++) {
    let current = 0;
    for (let i = all.offsets[u]; i < all.offsets[u + 1]; i++) {
      const r = all.rows[i];
      if (r === firstHeldOut[u]) current = 1;
      if (r === firstTest[u]) current = 2;
      part[r] = current;
    }
  }
  return { trainLog: filterLog(log, (r) => part[r] === 0), validLog: filterLog(log, (r) => part[r] === 1) };
}

function interactedItems(dataset: Dataset): Int32Array | undefined {
  const seen = new Uint8Array(dataset.items.size);
  for (const item of dataset.log.item) seen[item] = 1;
  if (dataset.given) for (const item of dataset.given.test.item) seen[item] = 1;
  const items: number[] = [];
  for (let i = 0; i < seen.length; i++) if (seen[i]) items.push(i);
  return items.length === seen.length ? undefined : Int32Array.from(items);
}

function base(dataset: Dataset, protocol: Protocol) {
  if (dataset.log.length === 0) throw new InputError(`${dataset.name} holds no interactions to evaluate on`);
  return {
    protocol,
    interactedItems: interactedItems(dataset),
    numUsers: dataset.users.size,
    numItems: dataset.items.size,
    hasTimestamps: dataset.hasTimestamps,
    catalog: dataset.catalog,
  };
}

/**
 * Splits each user's positives, oldest first, into train, validation and test runs whose sizes `sizes(n)`
 * returns (null keeps all n in train). The training log keeps each user's events before the first held out.
 */
function perUserTailSplit(
  dataset: Dataset,
  positives: PositiveSet,
  protocol: Protocol,
  sizes: (n: number) => { valid: number; test: number } | null,
  description: string,
): EvalSplit {
  const { log } = dataset;
  const numUsers = dataset.users.size;
  const { rows, all } = positiveRows(log, numUsers, positives);
  const train: number[][] = [];
  const valid: number[][] = [];
  const test: number[][] = [];
  const firstHeldOut = new Int32Array(numUsers).fill(-1);
  const firstTest = new Int32Array(numUsers).fill(-1);
  for (let u = 0; u < numUsers; u++) {
    const mine = rows[u];
    const n = mine.length;
    const held = sizes(n);
    if (held === null) {
      train.push(itemsOf(log, mine));
      valid.push([]);
      test.push([]);
      continue;
    }
    const nTrain = n - held.valid - held.test;
    train.push(itemsOf(log, mine.subarray(0, nTrain)));
    valid.push(itemsOf(log, mine.subarray(nTrain, n - held.test)));
    test.push(itemsOf(log, mine.subarray(n - held.test)));
    firstHeldOut[u] = mine[nTrain];
    firstTest[u] = mine[n - held.test];
  }
  return {
    ...base(dataset, protocol),
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: userItemsFromLists(test),
    ...cutLogs(log, all, firstHeldOut, firstTest),
    description,
  };
}

/** SASRec: per user the last positive is the test item, the one before the validation item (users with >= 3). */
function leaveLastOut(dataset: Dataset, positives: PositiveSet): EvalSplit {
  return perUserTailSplit(
    dataset,
    positives,
    'sasrec',
    (n) => (n < 3 ? null : { valid: 1, test: 1 }),
    'leave-last-out: last positive = test, second-to-last = validation (users with >= 3 positives)',
  );
}

/** LightGCN-style full ranking over a chronological hold-out: each user's latest positives are the test set. */
function chronologicalHoldout(
  dataset: Dataset,
  positives: PositiveSet,
  testFraction: number,
  validFraction: number,
): EvalSplit {
  return perUserTailSplit(
    dataset,
    positives,
    'full',
    (n) => {
      if (n < 3) return null;
      const test = Math.max(1, Math.round(n * testFraction));
      const valid = Math.max(1, Math.round(n * validFraction));
      // At least one training positive stays, so every evaluated user has a history.
      return { test, valid: Math.min(valid, n - test - 1) };
    },
    `chronological hold-out per user: last ${Math.round(testFraction * 100)}% of positives = test, ` +
      `${Math.round(validFraction * 100)}% before = validation`,
  );
}

/** Splits a given train/test (LightGCN, NCF files): each user's last training positive becomes validation. */
function givenSplit(dataset: Dataset, protocol: Protocol, positives: PositiveSet): EvalSplit {
  const given = dataset.given!;
  const { log } = dataset;
  const numUsers = dataset.users.size;
  const { rows, all } = positiveRows(log, numUsers, positives);
  const testRows = positiveRows(given.test, numUsers, positives).rows;
  const train: number[][] = [];
  const valid: number[][] = [];
  const test: number[][] = [];
  const firstHeldOut = new Int32Array(numUsers).fill(-1);
  for (let u = 0; u < numUsers; u++) {
    const mine = rows[u];
    const targets = itemsOf(given.test, testRows[u]);
    if (mine.length < 2) {
      train.push(itemsOf(log, mine));
      valid.push([]);
    } else {
      train.push(itemsOf(log, mine.subarray(0, -1)));
      valid.push([log.item[mine[mine.length - 1]]]);
      firstHeldOut[u] = mine[mine.length - 1];
    }
    test.push(mine.length === 0 ? [] : protocol === 'sasrec' ? targets.slice(-1) : targets);
  }
  return {
    ...base(dataset, protocol),
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: userItemsFromLists(test),
    ...cutLogs(log, all, firstHeldOut, new Int32Array(numUsers).fill(-1)),
    givenNegatives: given.negatives,
    description: "the data set's own train/test files; each user's last training positive = validation",
  };
}

/** The temporal protocol's cut-offs: the test window is the last `windowFraction` of the time span, validation the one before. */
export function temporalCutoffs(
  log: InteractionLog,
  windowFraction: number,
): { first: number; last: number; span: number; validStart: number; testStart: number } {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < log.length; r++) {
    first = Math.min(first, log.ts[r]);
    last = Math.max(last, log.ts[r]);
  }
  const span = last - first;
  const testStart = last - span * windowFraction;
  return { first, last, span, validStart: testStart - span * windowFraction, testStart };
}

/** PinnerFormer: train before a cut-off time, evaluate the positives of the window after it. */
function temporalSplit(dataset: Dataset, positives: PositiveSet, windowFraction: number): EvalSplit {
  if (!dataset.hasTimestamps) {
    throw new InputError(
      `the temporal protocol needs timestamps, and ${dataset.name} has none (try --protocol sasrec)`,
    );
  }
  const { log } = dataset;
  const numUsers = dataset.users.size;
  const { span, validStart, testStart } = temporalCutoffs(log, windowFraction);
  const { rows } = positiveRows(log, numUsers, positives);
  const train: number[][] = [];
  const valid: number[][] = [];
  const test: number[][] = [];
  for (let u = 0; u < numUsers; u++) {
    const parts: [number[], number[], number[]] = [[], [], []];
    for (const r of rows[u])
      parts[log.ts[r] < validStart ? 0 : log.ts[r] < testStart ? 1 : 2].push(log.item[r]);
    train.push(parts[0]);
    valid.push(parts[1]);
    test.push(parts[2]);
  }
  const day = 86_400_000;
  return {
    ...base(dataset, 'temporal'),
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: userItemsFromLists(test),
    trainLog: filterLog(log, (r) => log.ts[r] < validStart),
    validLog: filterLog(log, (r) => log.ts[r] >= validStart && log.ts[r] < testStart),
    description:
      `time cut-offs: train before ${new Date(validStart).toISOString()}, validation window ` +
      `${(span * windowFraction) / day} days, then the test window of the same length`,
  };
}

export function buildSplit(dataset: Dataset, options: SplitOptions): EvalSplit {
  const positives = options.positives ?? 'engaged';
  const fractions = [
    options.testFraction ?? 0.2,
    options.validFraction ?? 0.1,
    options.windowFraction ?? 0.1,
  ];
  for (const f of fractions) {
    if (!(f > 0 && f < 0.5)) throw new InputError(`split fractions must be in (0, 0.5), got ${f}`);
  }
  if (dataset.given && options.protocol !== 'temporal')
    return givenSplit(dataset, options.protocol, positives);
  switch (options.protocol) {
    case 'sasrec':
      return leaveLastOut(dataset, positives);
    case 'full':
      return chronologicalHoldout(dataset, positives, fractions[0], fractions[1]);
    case 'temporal':
      return temporalSplit(dataset, positives, fractions[2]);
  }
}
