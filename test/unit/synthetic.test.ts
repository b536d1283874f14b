import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/core/dataset.ts';
import { ACTION_CODE } from '../../src/core/events.ts';
import {
  DEFAULT_SYNTHETIC_OPTIONS,
  generateSynthetic,
  generateSyntheticWithTruth,
  type SyntheticOptions,
  summarizeSynthetic,
  TOPIC_VOCABULARY,
} from '../../src/train/data/synthetic/index.ts';

const DAY = 86_400_000;
const SMALL: Partial<SyntheticOptions> = { users: 300, items: 1000, events: 30_000, boards: 100, seed: 7 };
const { dataset, truth } = generateSyntheticWithTruth(SMALL);
const { log } = dataset;
const catalog = dataset.catalog!;

/** Primary topic index of every item, from the catalog (what a consumer of the data set sees). */
function primaryTopics(data: Dataset): { topic: Int32Array; count: number } {
  const names = new Map<string, number>();
  const topic = Int32Array.from(data.catalog!.topics, (topics) => {
    const name = topics[0];
    if (!names.has(name)) names.set(name, names.size);
    return names.get(name)!;
  });
  return { topic, count: names.size };
}

/** Primary topics of each user's positive actions (click, closeup, save), in time order. */
function positiveTopicsByUser(data: Dataset, topic: Int32Array): number[][] {
  const byUser: number[][] = Array.from({ length: data.users.size }, () => []);
  const { user, item, action } = data.log;
  for (let r = 0; r < data.log.length; r++) {
    const a = action[r];
    if (a === ACTION_CODE.click || a === ACTION_CODE.closeup || a === ACTION_CODE.save) {
      byUser[user[r]].push(topic[item[r]]);
    }
  }
  return byUser;
}

/** Index of the first differing element, or -1 when the arrays are identical (faster than deep equality). */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function distribution(values: number[], size: number): Float64Array {
  const d = new Float64Array(size);
  for (const v of values) d[v] += 1 / values.length;
  return d;
}

function l1(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum;
}

describe('generateSynthetic: shape and determinism', () => {
  it('gives bit-identical output for the same options and different output for another seed', () => {
    const again = generateSynthetic(SMALL);
    expect(firstDifference(again.log.user, log.user)).toBe(-1);
    expect(firstDifference(again.log.item, log.item)).toBe(-1);
    expect(firstDifference(again.log.action, log.action)).toBe(-1);
    expect(firstDifference(again.log.ts, log.ts)).toBe(-1);
    expect(again.catalog!.titles).toEqual(catalog.titles);
    expect(again.catalog!.topics).toEqual(catalog.topics);
    const boards = catalog.boards!.items;
    expect(
      again.catalog!.boards!.items.every((members, b) => firstDifference(members, boards[b]) === -1),
    ).toBe(true);

    const other = generateSynthetic({ ...SMALL, seed: 8 });
    expect(other.log.length).toBe(log.length);
    expect(firstDifference(other.log.item, log.item)).not.toBe(-1);
    expect(firstDifference(other.log.ts, log.ts)).not.toBe(-1);
    expect(other.catalog!.titles).not.toEqual(catalog.titles);
  });

  it('has exactly `events` rows', () => {
    expect(log.length).toBe(30_000);
    for (const column of [log.user, log.item, log.action, log.ts]) expect(column.length).toBe(30_000);
    const odd = generateSynthetic({ users: 97, items: 500, events: 12_345, boards: 40, topics: 7, seed: 3 });
    expect(odd.log.length).toBe(12_345);
    const tight = generateSynthetic({
      users: 50,
      items: 60,
      events: 50,
      boards: 1,
      topics: 3,
      days: 1,
      seed: 1,
    });
    expect(tight.log.length).toBe(50);
  });

  it('describes itself and interns u1..uN and p1..pM in order, every item included', () => {
    expect(dataset.name).toBe('synthetic');
    expect(dataset.format).toBe('events');
    expect(dataset.hasTimestamps).toBe(true);
    expect(dataset.users.size).toBe(300);
    expect(dataset.items.size).toBe(1000);
    expect(dataset.users.idOf(0)).toBe('u1');
    expect(dataset.users.indexOf('u300')).toBe(299);
    expect(dataset.items.idOf(0)).toBe('p1');
    expect(dataset.items.indexOf('p1000')).toBe(999);
    for (let r = 0; r < log.length; r++) {
      if (
        log.user[r] < 0 ||
        log.user[r] >= 300 ||
        log.item[r] < 0 ||
        log.item[r] >= 1000 ||
        log.action[r] > 4
      ) {
        throw new Error(`row ${r} out of range`);
      }
    }
    const seen = new Set(log.item);
    expect(seen.size).toBeLessThan(1000); // some pins never interacted with, still interned
    const active = new Set(log.user);
    expect(active.size).toBe(300);
  });

  it('sorts rows by integer-millisecond timestamps inside the period', () => {
    const start = DEFAULT_SYNTHETIC_OPTIONS.startTime;
    const end = start + DEFAULT_SYNTHETIC_OPTIONS.days * DAY;
    for (let r = 0; r < log.length; r++) {
      const ts = log.ts[r];
      if (!Number.isInteger(ts) || ts < start || ts >= end)
        throw new Error(`row ${r}: ts ${ts} outside the period`);
      if (r > 0 && ts < log.ts[r - 1]) throw new Error(`row ${r}: ts ${ts} before ${log.ts[r - 1]}`);
    }
    // The activity spreads over the whole period.
    expect(log.ts[log.length - 1] - log.ts[0]).toBeGreaterThan(80 * DAY);
  });

  it('never shows a pin before it exists, and new pins do get shown', () => {
    const start = DEFAULT_SYNTHETIC_OPTIONS.startTime;
    const createdAt = truth.pinCreatedAt;
    let newPins = 0;
    for (let i = 0; i < createdAt.length; i++) if (createdAt[i] > start) newPins++;
    expect(newPins / createdAt.length).toBeGreaterThan(0.12);
    expect(newPins / createdAt.length).toBeLessThan(0.28);
    const newShown = new Set<number>();
    for (let r = 0; r < log.length; r++) {
      const item = log.item[r];
      if (log.ts[r] < createdAt[item]) throw new Error(`row ${r}: p${item + 1} shown before it was created`);
      if (createdAt[item] > start) newShown.add(item);
    }
    expect(newShown.size).toBeGreaterThan(newPins / 3);
  });

  it('follows every action with an impression of the same pin by the same user a few seconds before', () => {
    const lastImpression = new Map<number, number>();
    const delays: number[] = [];
    for (let r = 0; r < log.length; r++) {
      const key = log.user[r] * 1_000_000 + log.item[r];
      if (log.action[r] === ACTION_CODE.impression) {
        lastImpression.set(key, log.ts[r]);
        continue;
      }
      const shown = lastImpression.get(key);
      if (shown === undefined) throw new Error(`row ${r}: action without an earlier impression`);
      delays.push(log.ts[r] - shown);
    }
    delays.sort((a, b) => a - b);
    expect(delays[0]).toBeGreaterThan(0);
    const median = delays[delays.length >> 1];
    expect(median).toBeGreaterThan(1000);
    expect(median).toBeLessThan(30_000);
  });

  it('reports progress about every 5% and finishes at the total', () => {
    const calls: [number, number][] = [];
    generateSynthetic(SMALL, (done, total) => calls.push([done, total]));
    expect(calls.length).toBeGreaterThanOrEqual(10);
    expect(calls.length).toBeLessThanOrEqual(21);
    expect(calls[calls.length - 1]).toEqual([30_000, 30_000]);
    for (let k = 1; k < calls.length; k++) expect(calls[k][0]).toBeGreaterThan(calls[k - 1][0]);
  });
});

describe('generateSynthetic: behaviour', () => {
  it('keeps action proportions realistic: impressions >> clicks > saves > hides', () => {
    const { shares, actions } = summarizeSynthetic(dataset);
    expect(shares.impression).toBeGreaterThan(0.78);
    expect(shares.click).toBeGreaterThan(0.07);
    expect(shares.click).toBeLessThan(0.11);
    expect(shares.closeup).toBeGreaterThan(0.035);
    expect(shares.closeup).toBeLessThan(0.065);
    expect(shares.save).toBeGreaterThan(0.025);
    expect(shares.save).toBeLessThan(0.055);
    expect(shares.hide).toBeGreaterThan(0.004);
    expect(shares.hide).toBeLessThan(0.016);
    expect(actions.impression).toBeGreaterThan(5 * actions.click);
    expect(actions.click).toBeGreaterThan(actions.save);
    expect(actions.save).toBeGreaterThan(actions.hide);
  });

  it('gives every user activity and a heavy-tailed activity distribution', () => {
    const rows = new Int32Array(dataset.users.size);
    for (let r = 0; r < log.length; r++) rows[log.user[r]]++;
    const sorted = Array.from(rows).sort((a, b) => a - b);
    expect(sorted[0]).toBeGreaterThanOrEqual(40);
    const median = sorted[sorted.length >> 1];
    expect(sorted[sorted.length - 1]).toBeGreaterThan(5 * median);
  });

  it('concentrates impressions on a few popular pins (power law)', () => {
    const impressions = new Float64Array(dataset.items.size);
    let total = 0;
    for (let r = 0; r < log.length; r++) {
      if (log.action[r] === ACTION_CODE.impression) {
        impressions[log.item[r]]++;
        total++;
      }
    }
    const sorted = Array.from(impressions).sort((a, b) => b - a);
    let top = 0;
    for (let i = 0; i < dataset.items.size / 100; i++) top += sorted[i];
    expect(top / total).toBeGreaterThan(0.1);
  });

  it("puts users' positive actions on their interest topics far more than chance", () => {
    const { topic, count } = primaryTopics(dataset);
    expect(count).toBe(24);
    const byUser = positiveTopicsByUser(dataset, topic);
    let share = 0;
    let users = 0;
    for (const topics of byUser) {
      if (topics.length < 5) continue;
      const counts = new Int32Array(count);
      for (const t of topics) counts[t]++;
      share += Math.max(...counts) / topics.length;
      users++;
    }
    expect(users).toBeGreaterThan(250);
    // Chance is 1/24 ≈ 0.04; measured ≈ 0.7.
    expect(share / users).toBeGreaterThan(0.5);
  });

  it('puts hides mostly outside the topics a user engages with', () => {
    const { topic, count } = primaryTopics(dataset);
    const byUser = positiveTopicsByUser(dataset, topic);
    const favourite = byUser.map((topics) => {
      const counts = new Int32Array(count);
      for (const t of topics) counts[t]++;
      return counts.indexOf(Math.max(...counts));
    });
    let hides = 0;
    let onFavourite = 0;
    let positives = 0;
    let positivesOnFavourite = 0;
    for (let r = 0; r < log.length; r++) {
      const onFav = topic[log.item[r]] === favourite[log.user[r]];
      if (log.action[r] === ACTION_CODE.hide) {
        hides++;
        if (onFav) onFavourite++;
      } else if (log.action[r] !== ACTION_CODE.impression) {
        positives++;
        if (onFav) positivesOnFavourite++;
      }
    }
    expect(hides).toBeGreaterThan(100);
    // Measured (seed 7): ≈ 0.09 of hides vs ≈ 0.76 of positives.
    expect(onFavourite / hides).toBeLessThan(0.25);
    expect(positivesOnFavourite / positives).toBeGreaterThan(0.5);
  });

  it('drifts interests: the latest positives resemble the previous ones more than the first ones', () => {
    const { topic, count } = primaryTopics(dataset);
    const byUser = positiveTopicsByUser(dataset, topic);
    let toPrevious = 0;
    let toFirst = 0;
    let users = 0;
    for (const topics of byUser) {
      if (topics.length < 20) continue;
      const fifth = Math.floor(topics.length / 5);
      const first = distribution(topics.slice(0, fifth), count);
      const previous = distribution(topics.slice(topics.length - 2 * fifth, topics.length - fifth), count);
      const last = distribution(topics.slice(topics.length - fifth), count);
      toPrevious += l1(last, previous);
      toFirst += l1(last, first);
      users++;
    }
    expect(users).toBeGreaterThan(30);
    // Measured (seed 7): L1 ≈ 0.66 to the previous fifth, ≈ 1.18 to the first.
    expect(toFirst / users).toBeGreaterThan(toPrevious / users + 0.15);
  });
});

describe('generateSynthetic: catalog', () => {
  it('titles every pin and gives it one topic, sometimes two', () => {
    expect(catalog.titles).toHaveLength(1000);
    for (const title of catalog.titles) expect(title).toMatch(/^[0-9A-Z][\w-]*( [\w-]+)+$/);
    expect(catalog.topics).toHaveLength(1000);
    const names = new Set(TOPIC_VOCABULARY.map((v) => v.name));
    let two = 0;
    for (const topics of catalog.topics) {
      expect(topics.length === 1 || topics.length === 2).toBe(true);
      for (const name of topics) expect(names.has(name)).toBe(true);
      if (topics.length === 2) {
        two++;
        expect(topics[1]).not.toBe(topics[0]);
      }
    }
    expect(two / 1000).toBeGreaterThan(0.05);
    expect(two / 1000).toBeLessThan(0.15);
    // Topic sizes are uneven.
    const { topic, count } = primaryTopics(dataset);
    const sizes = new Int32Array(count);
    for (const t of topic) sizes[t]++;
    expect(Math.max(...sizes)).toBeGreaterThan(4 * Math.min(...sizes));
  });

  it('names topics beyond the built-in vocabulary distinctly', () => {
    const many = generateSynthetic({ users: 20, items: 400, events: 400, boards: 10, topics: 30, seed: 2 });
    const names = new Set(many.catalog!.topics.map((topics) => topics[0]));
    expect(names.size).toBe(30);
    expect(names.has('recipes 2')).toBe(true);
  });

  it('puts every pin on a board of 10–200 distinct pins, boards mostly of one topic', () => {
    const boards = catalog.boards!;
    expect(boards.ids).toHaveLength(100);
    expect(boards.ids[0]).toBe('b1');
    expect(boards.ids[99]).toBe('b100');
    expect(boards.items).toHaveLength(100);
    const onBoard = new Uint8Array(1000);
    const { topic, count } = primaryTopics(dataset);
    let coherence = 0;
    for (const members of boards.items) {
      expect(members.length).toBeGreaterThanOrEqual(10);
      expect(members.length).toBeLessThanOrEqual(200);
      expect(new Set(members).size).toBe(members.length);
      const counts = new Int32Array(count);
      for (const pin of members) {
        onBoard[pin] = 1;
        counts[topic[pin]]++;
      }
      coherence += Math.max(...counts) / members.length;
    }
    expect(onBoard.every((v) => v === 1)).toBe(true);
    expect(coherence / boards.items.length).toBeGreaterThan(0.6);
  });
});

describe('generateSynthetic: options', () => {
  it('uses the documented defaults', () => {
    expect(DEFAULT_SYNTHETIC_OPTIONS).toEqual({
      users: 5000,
      items: 20000,
      events: 500_000,
      topics: 24,
      boards: 2000,
      days: 90,
      seed: 42,
      startTime: Date.UTC(2026, 0, 1),
    });
    expect(truth.options).toEqual({ ...DEFAULT_SYNTHETIC_OPTIONS, ...SMALL });
  });

  const bad: [Partial<SyntheticOptions> & Record<string, unknown>, string][] = [
    [{ users: 0 }, 'users'],
    [{ users: 2.5 }, 'users'],
    [{ items: -1 }, 'items'],
    [{ events: Number.NaN }, 'events'],
    [{ users: 10, events: 9, items: 100, boards: 10 }, 'events'],
    [{ topics: 0 }, 'topics'],
    [{ items: 5, topics: 6, boards: 1, users: 1, events: 10 }, 'items'],
    [{ boards: 0 }, 'boards'],
    [{ items: 1000, boards: 4 }, 'boards'],
    [{ days: 0 }, 'days'],
    [{ seed: 1.5 }, 'seed'],
    [{ startTime: -1 }, 'startTime'],
    [{ usres: 10 }, 'usres'],
  ];
  it.each(bad)('rejects %o naming "%s"', (options, name) => {
    expect(() => generateSynthetic(options as Partial<SyntheticOptions>)).toThrow(RangeError);
    expect(() => generateSynthetic(options as Partial<SyntheticOptions>)).toThrow(`"${name}"`);
  });
});
