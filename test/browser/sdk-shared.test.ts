/**
 * One engine per origin: three same-origin iframes (standing in for tabs, each loading the SDK itself)
 * and the test page call createRecommender({ shared: true }) with one engine identity. Chromium's target
 * list shows exactly one engine worker (a SharedWorker); every page gets recommendations; the engine's
 * resources are one model state (one item table) and one retriever (one GPU device when on WebGPU).
 * Removing a frame mid-request (no dispose: its Web Lock is released with it) leaves the others
 * recommending; the last dispose ends the worker. A dedicated recommender beside it is its own worker.
 * (Without SharedWorker, tabs elect a leader instead: test/browser/sdk-leader.test.ts.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  createRecommender,
  type EngineStatus,
  InvalidRequestError,
  type Recommender,
  type RecommenderOptions,
} from '../../src/sdk/index.ts';
import { engineWorkersStartedFromNow, eventually, NONE } from './engine-workers.ts';
import { openSdkFrame } from './sdk-frames.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const options: RecommenderOptions = {
  bundleUrl: BUNDLES,
  userId: `shared-${run}`,
  databaseName: `edgerec-shared-${run}`,
  // WebGPU by name: the one GPU device is part of what is shared (auto picks the CPU for this small table).
  device: 'webgpu',
  shared: true,
  // On-device learning has its own files (learning, sync-learning); its background runs here (tfjs and a
  // SwiftShader warm-up, ~10 s each) would only slow this file down.
  learning: false,
};
const frames: HTMLIFrameElement[] = [];
afterAll(() => {
  for (const frame of frames) frame.remove();
});

/** A same-origin frame that imports the SDK through the dev server, as a second tab's page would. */
const frame = () => openSdkFrame(frames);

const ids = async (rec: Recommender) => (await rec.recommend({ k: 10 })).items.map((i) => i.itemId);

describe('one engine per origin (shared: true)', () => {
  it('three frames and the page share one SharedWorker engine, which survives a frame closing mid-request', async () => {
    const engineWorkers = await engineWorkersStartedFromNow();
    const [a, b, c] = await Promise.all([frame(), frame(), frame()]);
    // Concurrent starts: one engine initialises, the others attach to the same start.
    const [recA, recB, recC] = await Promise.all([
      a.createRecommender(options),
      b.createRecommender(options),
      c.createRecommender(options),
    ]);
    const page = await createRecommender(options);
    expect(await engineWorkers()).toEqual({ dedicated: 0, shared: 1 });

    const statuses: EngineStatus[] = await Promise.all([recA, recB, recC, page].map((r) => r.status()));
    for (const status of statuses) {
      expect(status.engineScope).toBe('shared');
      expect(status.connections).toBe(4);
      // One item table, one GPU retriever (one device and its buffers), for all four.
      expect(status.backend?.retrieval).toBe('webgpu');
      expect(status.resources.modelStates).toBe(1);
      expect(status.resources.gpuRetrievers).toBe(1);
      expect(status.resources).toEqual(statuses[0].resources);
    }
    console.info(
      `shared engine: backend ${JSON.stringify(statuses[0].backend)}, resources ${JSON.stringify(statuses[0].resources)}`,
    );
    const expected = await ids(page);
    expect(expected).toHaveLength(10);
    for (const rec of [recA, recB, recC]) expect(await ids(rec)).toEqual(expected);
    // Typed errors keep their class and code over the shared port.
    const bad = await page.recommend({ k: 0 }).catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(InvalidRequestError);
    expect((bad as InvalidRequestError).code).toBe('INVALID_REQUEST');

    // Frame A goes away with a request in flight and without disposing (a tab closed).
    const inFlightA = recA.recommend({ k: 10 });
    const inFlightB = recB.recommend({ k: 10 });
    void inFlightA.catch(() => {});
    a.element.remove();
    expect((await inFlightB).items.map((i) => i.itemId)).toEqual(expected);
    const afterClose = await eventually(
      () => recB.status(),
      (s) => s.connections === 3,
    );
    expect(afterClose.connections).toBe(3);
    expect(await ids(recC)).toEqual(expected);
    expect(await engineWorkers()).toEqual({ dedicated: 0, shared: 1 });

    // Disposing one recommender detaches it only.
    await recB.dispose();
    expect((await recC.status()).connections).toBe(2);
    expect(await ids(recC)).toEqual(expected);
    expect(await ids(page)).toEqual(expected);
    const left = await page.status();
    expect(left.resources.modelStates).toBe(1);

    // A dedicated recommender (shared: false) is a worker of its own beside the shared one.
    // (On the CPU: a second WebGPU start costs tens of seconds on SwiftShader and shows nothing more.)
    const dedicated = await createRecommender({ ...options, device: 'wasm', shared: false });
    expect((await dedicated.status()).engineScope).toBe('dedicated');
    expect((await dedicated.status()).connections).toBe(1);
    expect(await engineWorkers()).toEqual({ dedicated: 1, shared: 1 });
    await dedicated.dispose();

    // The last dispose ends the engine and its worker.
    await recC.dispose();
    await page.dispose();
    expect(await eventually(engineWorkers, (w) => w.shared === 0 && w.dedicated === 0)).toEqual(NONE);
  }, 300_000);

  it('without SharedWorker and BroadcastChannel, shared: true falls back to a dedicated worker and says so', async () => {
    const engineWorkers = await engineWorkersStartedFromNow();
    const { SharedWorker: sharedWorker, BroadcastChannel: channel } = globalThis;
    // The fallback's trigger: a browser with neither (without SharedWorker alone, tabs elect a leader:
    // test/browser/sdk-leader.test.ts).
    Reflect.deleteProperty(globalThis, 'SharedWorker');
    Reflect.deleteProperty(globalThis, 'BroadcastChannel');
    try {
      const rec = await createRecommender({ ...options, device: 'wasm' });
      const status = await rec.status();
      expect(status.engineScope).toBe('dedicated');
      expect(status.connections).toBe(1);
      expect(await engineWorkers()).toEqual({ dedicated: 1, shared: 0 });
      expect(await ids(rec)).toHaveLength(10);
      await rec.dispose();
    } finally {
      globalThis.SharedWorker = sharedWorker;
      globalThis.BroadcastChannel = channel;
    }
    expect(await eventually(engineWorkers, (w) => w.dedicated === 0)).toEqual(NONE);
  });
});
