import { describe, expect, it } from 'vitest';
import type { BundleLearning, DecodedItemTable } from '../../src/core/bundle/index.ts';
import { validateManifest } from '../../src/core/bundle/index.ts';
import { ACTION_CODE } from '../../src/core/events.ts';
import type { FeedModel, FeedRunners } from '../../src/core/feed/index.ts';
import { InteractionLogBuilder } from '../../src/core/interactions.ts';
import {
  bundleLearningChoice,
  DEFAULT_LEARNED_WEIGHT,
  DEFAULT_LEARNING_OPTIONS,
  type LearningCandidate,
  learningChoiceOf,
} from '../../src/core/learning/index.ts';
import { DEFAULT_UTILITY_WEIGHTS } from '../../src/core/ranking/index.ts';
import { chooseLearning, learnedVariant, multiVariant, runReplay } from '../../src/core/replay/index.ts';
import { referenceTopK } from '../../src/core/retrieval/index.ts';
import { DeviceLearner, type LearnerModel } from '../../src/engine/learning/index.ts';
import { initTraining } from '../../src/train/tf/backend.ts';

// Eight pins on the unit circle: two users whose server embedding points away from what they engage with.
const angles = [0, 0.3, 0.8, 1.3, 1.8, 2.4, 3.0, 4.0];
const rows = angles.map((a) => [Math.cos(a), Math.sin(a)]);
const table: DecodedItemTable = { dtype: 'f32', count: 8, dim: 2, values: Float32Array.from(rows.flat()) };
const model: FeedModel = {
  table,
  catalog: { titles: rows.map((_, i) => `pin ${i}`), topics: rows.map(() => []) },
  stats: { positives: rows.map(() => 0), impressions: rows.map(() => 0), firstSeen: rows.map(() => null) },
  popular: Int32Array.from(rows.keys()),
};

/**
 * Fake model runners at the boundary the choice does not cover (the ONNX encoder and ranker): the encoder
 * returns the newest action's pin row, the ranker P(click) = 0.5 + 0.5·(user_long · item); retrieval is
 * the real exact scan.
 */
const runners: FeedRunners = {
  encode: async (w) => Float32Array.from(rows[w.items[w.items.length - 1]]),
  retrieve: async (queries, n, exclude) => queries.map((q) => referenceTopK(table, q, n, exclude).indices),
  rank: async ({ size, dim, userLong, item }) => {
    const probs = new Float32Array(size * 4);
    for (let c = 0; c < size; c++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += userLong[c * dim + d] * item[c * dim + d];
      probs[c * 4] = 0.5 + 0.5 * dot;
    }
    return probs;
  },
};

const { impression, click, save, hide } = ACTION_CODE;
const GAP = 5_000_000; // over 30 minutes: each session is a feed request
function eventLog() {
  const b = new InteractionLogBuilder();
  for (const user of [0, 1]) {
    const base = user * 10;
    b.push(user, 6, save, base); // history, before the window
    // Three sessions in the window, engaging with pins 2–5 and hiding pin 7.
    b.push(user, 7, impression, 2000 + base);
    b.push(user, 7, hide, 2010 + base);
    b.push(user, 3, click, 2020 + base);
    b.push(user, 4, save, GAP + base);
    b.push(user, 2, impression, GAP + 10 + base);
    b.push(user, 5, click, 2 * GAP + base);
    b.push(user, 2, save, 2 * GAP + 10 + base);
  }
  return b.build();
}

const input = {
  log: eventLog(),
  numUsers: 2,
  window: { from: 1000, to: 100_000_000 },
  // The server's embeddings point at pin 0, away from the pins engaged in the window.
  longTerm: Float32Array.from([1, 0, 1, 0]),
  model,
  weights: { ...DEFAULT_UTILITY_WEIGHTS },
};
const replay = { k: 3, candidates: 4, diversity: 1 };

const GRID: LearningCandidate[] = [
  { name: 'off', learn: false },
  { name: 'held', learn: true, options: { l2: 1000 } },
  { name: 'free', learn: true, options: { l2: 0.01, learningRate: 1, sampled: 4 }, weight: 1 },
  { name: 'free-half', learn: true, options: { l2: 0.01, learningRate: 1, sampled: 4 }, weight: 0.5 },
];

describe('chooseLearning', () => {
  it('replays every setting on the same users and picks the best validation row (ties to the earlier)', async () => {
    const choice = await chooseLearning(input, runners, initTraining, { grid: GRID, seed: 3, ...replay });
    expect(choice.grid.map((r) => r.name)).toEqual(GRID.map((c) => c.name));
    expect(choice.users).toBe(2);
    expect(choice.requests).toBe(6);
    const scores = choice.grid.map((r) => r.metrics['Recall@20']);
    // The rows are the replay's own numbers for each setting (off = multi-interest without learning).
    const direct = await runReplay(
      input,
      runners,
      [
        multiVariant({}, 'off'),
        ...GRID.slice(1).map((c) =>
          learnedVariant(initTraining, { choice: learningChoiceOf(c, ''), multi: {} }, c.name),
        ),
      ],
      { seed: 3, ...replay },
    );
    expect(scores).toEqual(direct.rows.map((r) => Math.round(r.metrics['Recall@20'] * 1e6) / 1e6));
    // Both alone in the query (weight 1): learning free of the prior moves it toward the engaged pins and
    // finds more of them than held at the server's embedding by λ 1000.
    expect(scores[2]).toBeGreaterThan(scores[1]);
    expect(new Set(scores).size).toBeGreaterThan(1);
    const best = Math.max(...scores);
    expect(choice.chosen).toBe(choice.grid[scores.indexOf(best)].name);
    expect(choice.grid.find((r) => r.name === choice.chosen)!.metrics['Recall@20']).toBe(best);
    // Same data, grid and seed: the same choice.
    expect(await chooseLearning(input, runners, initTraining, { grid: GRID, seed: 3, ...replay })).toEqual(
      choice,
    );
    // A tie goes to the earlier row: two settings that do not learn give the same slates.
    const tie = await chooseLearning(input, runners, initTraining, {
      grid: [GRID[0], { name: 'off too', learn: false }],
      seed: 3,
      ...replay,
    });
    expect(tie.grid[0].metrics['Recall@20']).toBe(tie.grid[1].metrics['Recall@20']);
    expect(tie.chosen).toBe('off');
  });
});

const learning = (chosen: string): BundleLearning => ({
  chosen,
  chosenBy: 'validation',
  metric: 'Recall@20',
  users: 200,
  requests: 290,
  seed: 0,
  grid: [
    { name: 'off', learn: false, metrics: { 'Recall@20': 0.14 } },
    { name: 'l2=1:weight=0.5', learn: true, options: { l2: 1 }, weight: 0.5, metrics: { 'Recall@20': 0.15 } },
  ],
});

describe('the bundle’s learning choice', () => {
  it('an older manifest (no learning block) keeps the built-in defaults; a chosen row sets them', () => {
    const old = bundleLearningChoice(undefined);
    expect(old).toMatchObject({ learn: true, weight: DEFAULT_LEARNED_WEIGHT, name: 'built-in' });
    expect(old.options).toEqual(DEFAULT_LEARNING_OPTIONS);
    const on = bundleLearningChoice(learning('l2=1:weight=0.5'));
    expect(on).toMatchObject({ learn: true, weight: 0.5, name: 'l2=1:weight=0.5' });
    expect(on.options).toEqual({ ...DEFAULT_LEARNING_OPTIONS, l2: 1 });
    expect(on.reason).toMatch(/chosen "l2=1:weight=0.5" on validation \(Recall@20 0\.15/);
    const off = bundleLearningChoice(learning('off'));
    expect(off.learn).toBe(false);
    expect(off.reason).toMatch(/^chosen off on validation/);
  });

  it('the manifest schema takes the block, and refuses a choice that is not a row of its grid', () => {
    const manifest = minimalManifest();
    expect(validateManifest({ ...manifest, learning: learning('off') }).learning?.chosen).toBe('off');
    expect(() => validateManifest({ ...manifest, learning: learning('l2=3') })).toThrow(/learning\.chosen/);
    expect(() =>
      validateManifest({
        ...manifest,
        learning: { ...learning('off'), grid: [{ name: 'x', learn: 'yes' }] },
      }),
    ).toThrow(/learning/);
  });

  it('the engine’s learner follows the bundle: off by its choice (and says why), on when the app insists', () => {
    const model = (chosen: BundleLearning | undefined): LearnerModel => ({
      version: 'v1',
      table,
      index: new Map(),
      learning: bundleLearningChoice(chosen),
      use: (task) => task(),
    });
    const timers = { setTimeout: () => 1, clearTimeout: () => {} };
    const deps = { storage: undefined as never, userId: 'u', timers };
    const off = new DeviceLearner({ ...deps, model: () => model(learning('off')) });
    expect(off.status()).toMatchObject({
      state: 'off',
      reason: expect.stringMatching(/chosen off on validation/),
    });
    const forced = new DeviceLearner({ ...deps, force: true, model: () => model(learning('off')) });
    expect(forced.status()).toMatchObject({
      state: 'waiting',
      reason: expect.stringMatching(/^learning: true/),
    });
    const older = new DeviceLearner({ ...deps, model: () => model(undefined) });
    expect(older.status()).toMatchObject({ state: 'waiting', reason: expect.stringMatching(/built-in/) });
  });
});

function minimalManifest() {
  const ref = { file: 'x.bin', bytes: 8 * 2 * 4, sha256: 'a'.repeat(64) };
  return {
    format: 1,
    version: 'v1',
    created: '2026-12-06T00:00:00Z',
    dataset: { name: 'd', format: 'events', users: 2, items: 8, events: 14, protocol: 'temporal', seed: 0 },
    dim: 2,
    items: [{ ...ref, dtype: 'f32', count: 8, dim: 2, metrics: {} }],
    catalog: { ...ref, file: 'c.json', count: 8 },
    rankers: [],
    encoders: [],
    utility: { weights: { ...DEFAULT_UTILITY_WEIGHTS } },
    context: [],
  };
}
