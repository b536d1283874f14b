import { describe, expect, it } from 'vitest';
import type { DecodedItemTable } from '../../src/core/bundle/index.ts';
import { ACTION_CODE } from '../../src/core/events.ts';
import { type FeedModel, type FeedRunners, recommendFeed } from '../../src/core/feed/index.ts';
import { InteractionLogBuilder } from '../../src/core/interactions.ts';
import { DEFAULT_UTILITY_WEIGHTS } from '../../src/core/ranking/index.ts';
import {
  blendVariant,
  type ReplayEvent,
  type ReplayVariant,
  runReplay,
  serverVariant,
  slateMetrics,
  utilityNdcgAt,
} from '../../src/core/replay/index.ts';
import { referenceTopK } from '../../src/core/retrieval/index.ts';

// A catalog of six pins in two dimensions.
const rows = [
  [1, 0],
  [0.8, 0.1],
  [0, 1],
  [0.3, 0.9],
  [0.7, 0.7],
  [-1, 0],
];
const table: DecodedItemTable = { dtype: 'f32', count: 6, dim: 2, values: Float32Array.from(rows.flat()) };
const model: FeedModel = {
  table,
  catalog: { titles: rows.map((_, i) => `pin ${i}`), topics: rows.map(() => []) },
  stats: { positives: rows.map(() => 0), impressions: rows.map(() => 0), firstSeen: rows.map(() => null) },
  popular: Int32Array.from([0, 1, 2, 3, 4, 5]),
};

/**
 * Fake model runners, at the boundary the replay does not cover (the ONNX encoder and ranker): the
 * "encoder" returns the row of the newest action's pin; the "ranker" gives P(click) = 0.5 + 0.5·(user_short ·
 * item) and 0 to the other heads, so utility = P(click). Retrieval is the real exact reference scan.
 */
const fakeRunners: FeedRunners = {
  encode: async (w) => Float32Array.from(rows[w.items[w.items.length - 1]]),
  retrieve: async (queries, n, exclude) => queries.map((q) => referenceTopK(table, q, n, exclude).indices),
  rank: async ({ size, dim, userShort, item }) => {
    const probs = new Float32Array(size * 4);
    for (let c = 0; c < size; c++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += userShort[c * dim + d] * item[c * dim + d];
      probs[c * 4] = 0.5 + 0.5 * dot;
    }
    return probs;
  },
};

const { impression, click, closeup, save, hide } = ACTION_CODE;
const SESSION_2 = 5_000_000; // over 30 minutes after session 1: a new feed request
function eventLog() {
  const b = new InteractionLogBuilder();
  b.push(0, 0, save, 0); // history, before the window
  // Session 1 (request at 2000): clicks pin 1, hides pin 2, saves pin 4.
  b.push(0, 1, impression, 2000);
  b.push(0, 1, click, 2010);
  b.push(0, 2, impression, 2020);
  b.push(0, 2, hide, 2030);
  b.push(0, 4, save, 2040);
  // Session 2: close-up and save of pin 3, click on pin 5.
  b.push(0, 3, closeup, SESSION_2);
  b.push(0, 3, save, SESSION_2 + 10);
  b.push(0, 5, click, SESSION_2 + 20);
  return b.build();
}

const input = {
  log: eventLog(),
  numUsers: 1,
  window: { from: 1000, to: 10_000_000 },
  longTerm: Float32Array.from([0, 1]),
  model,
  weights: { ...DEFAULT_UTILITY_WEIGHTS },
};
const options = { seed: 7, k: 3, candidates: 3, diversity: 1 };
const L3 = Math.log2(3);

describe('slateMetrics', () => {
  it('scores a slate against a session by hand', () => {
    const truth = {
      engaged: new Set([1, 4]),
      hidden: new Set([2]),
      actions: new Map([
        [1, new Set([click])],
        [2, new Set([hide])],
        [4, new Set([save])],
      ]),
    };
    const m = slateMetrics([2, 3, 4], truth, DEFAULT_UTILITY_WEIGHTS);
    expect(m['Recall@20']).toBe(0.5);
    // One hit at rank 3: (1/log2 4) / (1 + 1/log2 3).
    expect(m['NDCG@20']).toBeCloseTo(0.5 / (1 + 1 / L3), 12);
    // Gains 2^max(0, u) − 1: pin 2 (hide, −4) 0, pin 3 0, pin 4 (save, 2) 3; ideal 3 then pin 1 (click) 1.
    expect(m['UtilityNDCG@10']).toBeCloseTo(1.5 / (3 + 1 / L3), 12);
    expect(m['HideRate@10']).toBe(0.1);
    expect(
      slateMetrics(
        [0],
        { engaged: new Set(), hidden: new Set(), actions: new Map() },
        DEFAULT_UTILITY_WEIGHTS,
      ),
    ).toEqual({
      'Recall@20': Number.NaN,
      'NDCG@20': Number.NaN,
      'UtilityNDCG@10': Number.NaN,
      'HideRate@10': 0,
    });
    // Close-up + save on one pin: gain 2^(0.5 + 2) − 1.
    expect(
      utilityNdcgAt(
        [5, 3],
        {
          engaged: new Set([3, 5]),
          hidden: new Set(),
          actions: new Map([
            [3, new Set([closeup, save])],
            [5, new Set([click])],
          ]),
        },
        DEFAULT_UTILITY_WEIGHTS,
        10,
      ),
    ).toBeCloseTo((1 + (2 ** 2.5 - 1) / L3) / (2 ** 2.5 - 1 + 1 / L3), 12);
  });
});

describe('runReplay on a hand-made event log', () => {
  it('replays both sessions through the feed pipeline and averages the hand-computed metrics', async () => {
    const report = await runReplay(input, fakeRunners, [serverVariant, blendVariant], options);
    expect(report.users).toBe(1);
    expect(report.requests).toBe(2);
    const [server, blend] = report.rows;
    // server, session 1: query (0, 1); pin 0 is excluded (saved before); scores 1: .1, 2: 1, 3: .9, 4: .7
    // → candidates 2, 3, 4; no encoder, so every P(click) = 0.5 and the slate keeps that order: 2 3 4.
    // Recall 1/2, NDCG .5/(1 + 1/log2 3), utility NDCG 1.5/(3 + 1/log2 3), hide rate 1/10 (pin 2).
    // Session 2: pins 0, 1, 2 (hidden), 4 are out; slate 3 5 = the ideal: every metric 1, hide rate 0.
    expect(server.variant).toBe('server');
    expect(server.metrics['Recall@20']).toBeCloseTo(0.75, 12);
    expect(server.metrics['NDCG@20']).toBeCloseTo((0.5 / (1 + 1 / L3) + 1) / 2, 6);
    expect(server.metrics['UtilityNDCG@10']).toBeCloseTo((1.5 / (3 + 1 / L3) + 1) / 2, 6);
    expect(server.metrics['HideRate@10']).toBeCloseTo(0.05, 12);
    // blend, session 1: short = row of pin 0 = (1, 0), query ∝ (.5, .5): scores 4 > 3 > 2 > 1 → candidates
    // 4 3 2, P(click) .85 .65 .5 → slate 4 3 2: Recall 1/2, NDCG 1/(1 + 1/log2 3), utility 3/(3 + 1/log2 3),
    // hide rate 1/10. Session 2 as for server (query ∝ (.35, .85) still puts 3 before 5, P(click) .92 > .15).
    expect(blend.metrics['Recall@20']).toBeCloseTo(0.75, 12);
    expect(blend.metrics['NDCG@20']).toBeCloseTo((1 / (1 + 1 / L3) + 1) / 2, 6);
    expect(blend.metrics['UtilityNDCG@10']).toBeCloseTo((3 / (3 + 1 / L3) + 1) / 2, 6);
    expect(blend.metrics['HideRate@10']).toBeCloseTo(0.05, 12);
  });

  it('lets a variant observe each session, with seeded stand-in impressions where the data has none', async () => {
    const seen: ReplayEvent[][] = [];
    const recording: ReplayVariant = {
      name: 'recording',
      start: () => ({ request: (base) => base, observe: (events) => void seen.push([...events]) }),
    };
    // Every impression of this log was acted on: the data set records nothing ignored, so stand-ins come.
    const report = await runReplay(input, fakeRunners, [recording], options);
    expect(report.standIns).toBe(true);
    const standIns = seen.map((events) => events.filter((e) => e.standIn));
    // Four per engaged event: session 1 has two (click 1, save 4), session 2 three.
    expect(standIns.map((s) => s.length)).toEqual([8, 12]);
    expect(standIns[0].every((e) => e.item !== 1 && e.item !== 4 && e.action === impression)).toBe(true);
    expect(standIns[1].every((e) => e.item !== 3 && e.item !== 5)).toBe(true);
    expect(seen.map((events) => events.filter((e) => !e.standIn).length)).toEqual([5, 3]);
    const again: ReplayEvent[][] = [];
    await runReplay(
      input,
      fakeRunners,
      [{ ...recording, start: () => ({ request: (b) => b, observe: (e) => void again.push([...e]) }) }],
      options,
    );
    expect(again).toEqual(seen);
  });
});

describe('recommendFeed with PinnerSage interests', () => {
  it('merges the single query and the interest medoids by quota, and names the interest in the reason', async () => {
    const feed = await recommendFeed(model, fakeRunners, {
      k: 3,
      actions: [{ item: 0, action: save, ts: 0 }],
      hidden: [],
      longTerm: Float32Array.from([0, 1]),
      longTermWeight: 0.5,
      counts: { click: 0, closeup: 0, save: 1, hide: 0 },
      now: 2000,
      weights: { ...DEFAULT_UTILITY_WEIGHTS },
      diversity: 1,
      candidates: 3,
      interests: 'multi',
      interestOptions: { singleShare: 0.5 },
    });
    // One engaged pin → one interest, medoid pin 0, importance 2^(−age / 7 days). Quotas of 3 at 0.5 : 0.5 → 2 : 1 (tie to the first).
    // Single query ∝ (.5, .5): 4 3 2 → takes 4 3; medoid query (1, 0): 1 4 3 → takes 1.
    // P(click) = .5 + .5·(short · item) with short = (1, 0): 1 → .9, 4 → .85, 3 → .65.
    expect(feed.interests).toEqual([{ medoid: 0, importance: 2 ** (-2000 / (7 * 86_400_000)), size: 1 }]);
    expect(feed.items.map((i) => i.item)).toEqual([1, 4, 3]);
    expect(feed.items[0].reason).toEqual({
      kind: 'interest',
      item: 0,
      text: 'From your interest in pins like “pin 0”',
    });
    expect(feed.items[1].reason.kind).toBe('popular');
  });
});
