import { afterAll, describe, expect, it } from 'vitest';
import { Bundle, httpBundleSource } from '../../src/core/bundle/index.ts';
import { createRecommender, type Recommender } from '../../src/sdk/index.ts';

// The small real bundle the browser project's global setup builds (test/browser/setup/bundle.global.ts).
const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const databaseName = `edgerec-engine-test-${run}`;
const userId = `user-${run}`;
const opened: Recommender[] = [];

async function catalog() {
  const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
  return (await Bundle.open(httpBundleSource(`${BUNDLES}${version}/`))).catalog();
}

afterAll(async () => {
  for (const r of opened) await r.dispose().catch(() => {});
});

describe('createRecommender (engine in a Web Worker, real bundle)', () => {
  it('recommends, learns from saves, never shows a hidden pin, and starts offline from IndexedDB', async () => {
    const phases = new Set<string>();
    const rec = await createRecommender({
      bundleUrl: BUNDLES,
      userId,
      databaseName,
      onProgress: (p) => phases.add(p.phase),
    });
    opened.push(rec);
    expect(phases.has('ready')).toBe(true);
    const status = await rec.status();
    expect(status.ready).toBe(true);
    expect(status.dtype).toBe('i8');
    // Retrieval on the CPU (SwiftShader is no GPU worth using): onnxruntime-web's lighter wasm-only build.
    expect(status.backend?.retrieval).toBe('wasm');
    expect(status.onnxRuntime).toBe('wasm');

    const cold = await rec.recommend({ k: 20 });
    expect(cold.items).toHaveLength(20);
    expect(new Set(cold.items.map((i) => i.itemId)).size).toBe(20);
    // No history yet: the feed starts from popularity (a TypeScript scan), not from retrieval.
    expect(cold.backend.retrieval).toBe('js');
    expect(cold.items.every((i) => i.reason.kind === 'popular')).toBe(true);
    expect(cold.timings.total).toBeGreaterThan(0);
    for (const item of cold.items) {
      expect(item.probabilities.save).toBeGreaterThanOrEqual(0);
      expect(item.probabilities.save).toBeLessThanOrEqual(1);
    }

    // Three saves of one topic: that topic must gain ground in the feed.
    const { ids, topics } = await catalog();
    const counts = new Map<string, number>();
    for (const list of topics) for (const t of list) counts.set(t, (counts.get(t) ?? 0) + 1);
    const shareOf = (items: { topics: string[] }[], t: string) =>
      items.filter((i) => i.topics.includes(t)).length / items.length;
    const topic = [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([t]) => t)
      .find((t) => shareOf(cold.items, t) < 0.2)!;
    const saved = ids.filter((_, i) => topics[i].includes(topic)).slice(0, 3);
    for (const itemId of saved) await rec.record({ itemId, action: 'save' });
    const warm = await rec.recommend({ k: 20 });
    expect(['webgpu', 'wasm']).toContain(warm.backend.retrieval);
    console.log(
      `topic ${topic}: ${shareOf(cold.items, topic)} of the cold feed, ${shareOf(warm.items, topic)} after 3 saves`,
    );
    expect(shareOf(warm.items, topic)).toBeGreaterThan(shareOf(cold.items, topic));
    expect(warm.items.some((i) => i.reason.kind !== 'popular')).toBe(true);
    // Saved pins are seen: not shown again unless asked.
    for (const id of saved) expect(warm.items.map((i) => i.itemId)).not.toContain(id);

    const hidden = warm.items[0].itemId;
    await rec.record({ itemId: hidden, action: 'hide' });
    for (const k of [20, 100]) {
      const after = await rec.recommend({ k, includeSeen: true });
      expect(after.items.map((i) => i.itemId)).not.toContain(hidden);
    }
    const excluded = warm.items[1].itemId;
    expect((await rec.recommend({ k: 50, exclude: [excluded] })).items.map((i) => i.itemId)).not.toContain(
      excluded,
    );
    expect((await rec.status()).pendingEvents).toBe(4);
    await rec.dispose();

    // Network cut: nothing answers at that address, so everything must come from IndexedDB.
    const offline = await createRecommender({
      bundleUrl: 'http://127.0.0.1:9/models/',
      userId,
      databaseName,
    });
    opened.push(offline);
    const again = await offline.recommend({ k: 10 });
    expect(again.items).toHaveLength(10);
    expect(again.modelVersion).toBe(warm.modelVersion);
    expect(again.items.map((i) => i.itemId)).not.toContain(hidden);
    expect((await offline.status()).online).toBe(false);
  });

  it('refuses a malformed request with a clear error', async () => {
    const rec = await createRecommender({
      bundleUrl: BUNDLES,
      userId: `${userId}-bad`,
      databaseName: `${databaseName}-bad`,
    });
    opened.push(rec);
    await expect(rec.recommend({ k: 0 })).rejects.toThrow(/k must be an integer from 1 to 256/);
    await expect(rec.recommend({ k: 10, diversity: 2 })).rejects.toThrow(/diversity must be in \[0, 1\]/);
    await expect(rec.recommend({ k: 10, weights: { like: 1 } as never })).rejects.toThrow(
      /unknown utility weight "like"/,
    );
    await expect(rec.record({ itemId: 'p1', action: 'like' as never })).rejects.toThrow(/action/);
    expect((await rec.recommend({ k: 256 })).items.length).toBeGreaterThan(0);
  });

  it('explains a missing bundle instead of failing obscurely', async () => {
    await expect(
      createRecommender({
        bundleUrl: 'http://127.0.0.1:9/models/',
        userId: 'nobody',
        databaseName: `${databaseName}-empty`,
      }),
    ).rejects.toThrow(/none cached yet/);
  });
});

describe('device loss', () => {
  it('keeps recommending after the WebGPU device is destroyed, on the CPU, with the same top results', async () => {
    const rec = await createRecommender({
      bundleUrl: BUNDLES,
      userId: `${userId}-gpu`,
      databaseName: `${databaseName}-gpu`,
      device: 'webgpu',
      // Retrieval's device is the subject; learning's own warm-up on SwiftShader would only slow it down.
      learning: false,
    });
    opened.push(rec);
    // Two saves give the user a vector, so retrieval (not the popularity start) runs.
    const { ids } = await catalog();
    for (const itemId of ids.slice(0, 2)) await rec.record({ itemId, action: 'save' });
    const before = await rec.recommend({ k: 10, diversity: 1 });
    expect(before.backend.retrieval).toBe('webgpu');
    // Retrieval on WebGPU: the build with ORT's WebGPU EP, so the models may share the device.
    expect((await rec.status()).onnxRuntime).toBe('webgpu');
    expect(await rec.simulateDeviceLoss()).toBe(true);
    const after = await rec.recommend({ k: 10, diversity: 1 });
    expect(after.backend.retrieval).not.toBe('webgpu');
    // Retrieval is exact on both backends, so the feed is the same one.
    expect(after.items.map((i) => i.itemId)).toEqual(before.items.map((i) => i.itemId));
    expect((await rec.status()).lastFallback).toMatch(/lost|failed/);
  });
});
