/**
 * On-device learning in headless Chromium: the learning step on tfjs's webgpu backend (SwiftShader here)
 * against wasm and cpu on the same events and the small real bundle's item table; then the engine in its
 * Web Worker learning from recorded events, used by recommend(), and moving to wasm when its GPU device
 * is lost.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Bundle, httpBundleSource } from '../../src/core/bundle/index.ts';
import { ACTION_CODE } from '../../src/core/events.ts';
import {
  DEFAULT_LEARNING_OPTIONS,
  type LearningEvent,
  learnFromEvents,
} from '../../src/core/learning/index.ts';
import { loadTfjs, selectBackend } from '../../src/engine/learning/backend.ts';
import { createRecommender, type Recommender } from '../../src/sdk/index.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
const bundle = await Bundle.open(httpBundleSource(`${BUNDLES}${version}/`));
const { ids } = await bundle.catalog();

const opened: Recommender[] = [];
afterAll(async () => {
  for (const r of opened) await r.dispose().catch(() => {});
});

/** A seeded local history: saves and clicks on a few pins, impressions of others, two hides. */
function history(count: number): LearningEvent[] {
  const events: LearningEvent[] = [];
  for (let i = 0; i < 40; i++) {
    const ts = 1_700_000_000_000 + i * 60_000;
    const item = (i * 37) % count;
    events.push({ item, action: ACTION_CODE.impression, ts });
    if (i % 4 === 0) events.push({ item, action: i % 8 === 0 ? ACTION_CODE.save : ACTION_CODE.click, ts });
    if (i % 13 === 5) events.push({ item, action: ACTION_CODE.hide, ts });
  }
  return events;
}

// float32 on every backend, different kernels (WGSL on SwiftShader, XNNPACK, plain JS): the same 30 steps
// of one convex problem agree to this much per coordinate of the unit-length result.
const TOLERANCE = 1e-4;

describe('on-device learning: the step on tfjs webgpu, wasm and cpu', () => {
  it('learns the same embedding on webgpu (SwiftShader) as on wasm and cpu, within 1e-4', async () => {
    const tf = await loadTfjs();
    const table = await bundle.itemTable('i8');
    const events = history(table.count);
    const prior = new Float32Array(table.dim).fill(1 / Math.sqrt(table.dim));
    const results: Record<string, Awaited<ReturnType<typeof learnFromEvents>>> = {};
    for (const backend of ['webgpu', 'wasm', 'cpu'] as const) {
      expect(await selectBackend(tf, backend)).toBe(true);
      expect(tf.getBackend()).toBe(backend);
      results[backend] = await learnFromEvents(tf, table, events, prior, DEFAULT_LEARNING_OPTIONS);
    }
    const wasm = results.wasm!;
    expect(wasm.steps).toBe(DEFAULT_LEARNING_OPTIONS.steps);
    expect(wasm.loss).toBeLessThan(wasm.initialLoss);
    for (const other of [results.webgpu!, results.cpu!]) {
      let worst = 0;
      for (let d = 0; d < table.dim; d++) worst = Math.max(worst, Math.abs(other.vector[d] - wasm.vector[d]));
      expect(worst).toBeLessThan(TOLERANCE);
      expect(Math.abs(other.loss - wasm.loss)).toBeLessThan(TOLERANCE * Math.max(1, Math.abs(wasm.loss)));
      expect(other.counts).toEqual(wasm.counts);
    }
  });
});

describe('on-device learning in the engine worker', () => {
  it('learns from recorded events on webgpu, recommend() uses it, and a lost device moves learning to wasm', async () => {
    const rec = await createRecommender({
      bundleUrl: BUNDLES,
      userId: `learner-${run}`,
      databaseName: `edgerec-learning-test-${run}`,
      // WebGPU only in the warm-up, so the fallback is exercised whatever SwiftShader's speed.
      learning: { backends: ['webgpu'] },
    });
    opened.push(rec);
    // The test bundle has no learning choice in its manifest: the engine learns with the built-in defaults.
    expect((await rec.status()).learning).toMatchObject({
      state: 'waiting',
      runs: 0,
      reason: expect.stringMatching(/built-in defaults/),
    });
    const before = await rec.recommend({ k: 20, interests: 'single' });
    for (let i = 0; i < 12; i++) await rec.record({ itemId: ids[i * 3], action: 'impression' });
    for (let i = 0; i < 4; i++) await rec.record({ itemId: ids[i * 3], action: 'save' });
    await rec.record({ itemId: ids[3 * 5], action: 'hide' });

    const learnt = await rec.learn();
    expect(learnt.state).toBe('idle');
    expect(learnt.backend).toBe('webgpu');
    expect(learnt.runs).toBeGreaterThanOrEqual(1);
    expect(learnt.steps).toBe(learnt.runs * DEFAULT_LEARNING_OPTIONS.steps);
    expect(learnt.positives).toBe(4);
    expect(learnt.loss!).toBeLessThan(learnt.initialLoss!);
    const after = await rec.recommend({ k: 20, interests: 'single' });
    expect(after.items).toHaveLength(20);
    expect(after.items.map((i) => i.itemId)).not.toEqual(before.items.map((i) => i.itemId));
    expect(after.items.some((i) => i.itemId === ids[15])).toBe(false);

    expect(await rec.simulateLearningDeviceLoss()).toBe(true);
    await rec.record({ itemId: ids[40], action: 'click' });
    const moved = await rec.learn();
    expect(moved.state).toBe('idle');
    expect(moved.backend).toBe('wasm');
    expect(moved.lastFallback).toMatch(/lost/);
    expect(moved.runs).toBeGreaterThan(learnt.runs);
    expect(moved.positives).toBe(5);
    expect((await rec.recommend({ k: 20 })).items).toHaveLength(20);
  });

  it('learns by itself a few events after recording, off the request path', async () => {
    const rec = await createRecommender({
      bundleUrl: BUNDLES,
      userId: `auto-${run}`,
      databaseName: `edgerec-learning-auto-${run}`,
    });
    opened.push(rec);
    for (let i = 0; i < 5; i++) await rec.record({ itemId: ids[100 + i], action: 'click' });
    // recommend() answers while the run may be in flight; the run then lands in the status.
    expect((await rec.recommend({ k: 10 })).items).toHaveLength(10);
    await expect
      .poll(async () => (await rec.status()).learning?.runs ?? 0, { timeout: 60_000 })
      .toBeGreaterThan(0);
    const status = (await rec.status()).learning!;
    expect(['webgpu', 'wasm', 'cpu']).toContain(status.backend);
    expect(Object.keys(status.timings ?? {}).length).toBeGreaterThan(0);
  });
});
