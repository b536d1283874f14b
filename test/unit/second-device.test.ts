import { describe, expect, it } from 'vitest';
import { combineEmbeddings } from '../../src/core/combine/index.ts';
import { ACTION_CODE } from '../../src/core/events.ts';
import type { FeedRequest } from '../../src/core/feed/index.ts';
import {
  DEFAULT_LEARNING_OPTIONS,
  learnFromEvents,
  learningChoiceOf,
} from '../../src/core/learning/index.ts';
import { DEFAULT_UTILITY_WEIGHTS } from '../../src/core/ranking/index.ts';
import { type ReplayEvent, secondDeviceVariant } from '../../src/core/replay/index.ts';
import { parseVariant } from '../../src/train/replay/variant-spec.ts';
import { initTraining } from '../../src/train/tf/backend.ts';
import { pinTable } from '../shared/pin-table.ts';

const { impression, click, save, hide } = ACTION_CODE;
const table = pinTable(6);
const ev = (item: number, action: number, ts: number): ReplayEvent => ({ item, action, ts });
// The first device's history: it engaged with pins 2 and 3, hid 0.
const history = [ev(2, impression, 1), ev(2, click, 2), ev(3, save, 3), ev(0, hide, 4)];
const longTerm = Float32Array.from([0.6, 0.8, 0]);
const user = { user: 7, table, longTerm, history, from: 100 };
const base: FeedRequest = {
  k: 3,
  actions: history.filter((e) => e.action !== impression),
  hidden: new Set([0]),
  longTerm,
  longTermWeight: 0.5,
  counts: { click: 1, closeup: 0, save: 1, hide: 1 },
  now: 200,
  weights: DEFAULT_UTILITY_WEIGHTS,
  diversity: 0.8,
  candidates: 6,
};

describe('second-device replay variant', () => {
  it("starts from the served combination, with none of the first device's events; then learns from its own", async () => {
    const tf = await initTraining();
    const first = await learnFromEvents(tf, table, history, longTerm, DEFAULT_LEARNING_OPTIONS);
    expect(first).toBeDefined();
    for (const rule of [
      { kind: 'server' },
      { kind: 'device' },
      { kind: 'sum', deviceWeight: 0.5 },
    ] as const) {
      const served = combineEmbeddings(
        rule,
        { vector: longTerm, updatedAt: 100 },
        { vector: first!.vector, updatedAt: 4 },
      );
      const device = await secondDeviceVariant(initTraining, rule).start(user);
      const request = await device.request(base);
      expect(Array.from(request.longTerm ?? [])).toEqual(Array.from(served ?? []));
      expect(request.longTermWeight).toBe(1);
      // A fresh device: no actions, hides or counts of the first device's.
      expect(request.actions).toEqual([]);
      expect([...request.hidden]).toEqual([]);
      expect(request.counts).toEqual({ click: 0, closeup: 0, save: 0, hide: 0 });
      expect(request.interests).toBe('multi');

      const own = [ev(4, impression, 150), ev(4, save, 151), ev(5, hide, 152)];
      await device.observe?.(own);
      const next = await device.request(base);
      const learned = await learnFromEvents(tf, table, own, served, DEFAULT_LEARNING_OPTIONS);
      expect(Array.from(next.longTerm ?? [])).toEqual(Array.from(learned!.vector));
      expect(next.actions).toEqual([own[1], own[2]]);
      expect([...next.hidden]).toEqual([5]);
      expect(next.counts).toEqual({ click: 0, closeup: 0, save: 1, hide: 1 });
    }
  });

  it("newest-wins serves the server's in the replay: its snapshot is at the window's start, after every history event", async () => {
    const newest = await (await secondDeviceVariant(initTraining, { kind: 'newest' }).start(user)).request(
      base,
    );
    const server = await (await secondDeviceVariant(initTraining, { kind: 'server' }).start(user)).request(
      base,
    );
    expect(Array.from(newest.longTerm ?? [])).toEqual(Array.from(server.longTerm ?? []));
    expect(Array.from(server.longTerm ?? [])).toEqual(Array.from(longTerm));
  });

  it("follows the bundle's learning choice (parseVariant's): its settings and weight, or no learning at all", async () => {
    const tf = await initTraining();
    const own = [ev(4, impression, 150), ev(4, save, 151), ev(5, hide, 152)];
    const chosen = learningChoiceOf(
      { name: 'strong pull', learn: true, options: { l2: 3, steps: 7, learningRate: 0.2 }, weight: 0.7 },
      'test',
    );
    const options = { ...DEFAULT_LEARNING_OPTIONS, l2: 3, steps: 7, learningRate: 0.2 };
    const first = await learnFromEvents(tf, table, history, longTerm, options);
    // The device's embedding as the server serves it: the choice's settings made it, not the defaults.
    const defaults = await learnFromEvents(tf, table, history, longTerm, DEFAULT_LEARNING_OPTIONS);
    expect(Array.from(first!.vector)).not.toEqual(Array.from(defaults!.vector));
    const device = await parseVariant('second:rule=device', chosen).start(user);
    const request = await device.request(base);
    expect(Array.from(request.longTerm ?? [])).toEqual(Array.from(first!.vector));
    expect(request.longTermWeight).toBe(0.7);
    await device.observe?.(own);
    const next = await device.request(base);
    const learned = await learnFromEvents(tf, table, own, first!.vector, options);
    expect(Array.from(next.longTerm ?? [])).toEqual(Array.from(learned!.vector));

    // Chosen off: neither device learns; the server's embedding is served and blended at the request's weight.
    const off = learningChoiceOf({ name: 'off', learn: false }, 'test');
    const quiet = await parseVariant('second:rule=device', off).start(user);
    const blended = await quiet.request({ ...base, longTermWeight: 0.3 });
    expect(Array.from(blended.longTerm ?? [])).toEqual(Array.from(longTerm));
    expect(blended.longTermWeight).toBe(0.3);
    await quiet.observe?.(own);
    expect(Array.from((await quiet.request(base)).longTerm ?? [])).toEqual(Array.from(longTerm));
  });
});
