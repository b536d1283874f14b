/**
 * The model variants a start times (fastestSession) are remembered in IndexedDB (src/engine/models/choice.ts):
 * a second start on the same device and bundle loads the chosen ranker and encoder alone, with the same
 * results, instead of creating and timing every candidate again.
 */
import { describe, expect, it } from 'vitest';
import { Bundle, httpBundleSource } from '../../src/core/bundle/index.ts';
import { createRecommender } from '../../src/sdk/index.ts';
import { openedRecommenders } from './opened-recommenders.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const databaseName = `edgerec-choice-test-${run}`;
const userId = `user-${run}`;
const opened = openedRecommenders(databaseName);

/** A start of the engine in its worker, with the model files it loaded (its `verify` events). */
async function start(modelFiles: Set<string>) {
  const loaded: string[] = [];
  const rec = await createRecommender({
    bundleUrl: BUNDLES,
    userId,
    databaseName,
    device: 'wasm',
    learning: false,
    onProgress: (p) => {
      if (p.phase === 'verify' && p.file && modelFiles.has(p.file)) loaded.push(p.file);
    },
  });
  opened.push(rec);
  return { rec, loaded };
}

describe('remembered model variants', () => {
  it('a second start loads only the ranker and encoder the first one timed fastest, with the same feed', async () => {
    const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
    const { manifest } = await Bundle.open(httpBundleSource(`${BUNDLES}${version}/`));
    const modelFiles = new Set([...manifest.rankers, ...manifest.encoders].map((m) => m.file));

    const first = await start(modelFiles);
    const chosen = await first.rec.status();
    // A user with history, so that the encoder, retrieval and the ranker all run.
    for (const item of (await first.rec.recommend({ k: 3 })).items)
      await first.rec.record({ itemId: item.itemId, action: 'save' });
    const feed = await first.rec.recommend({ k: 10 });
    await first.rec.dispose();
    // Every student candidate of the wasm EP was loaded and timed: more than one ranker and one encoder.
    expect(new Set(first.loaded).size).toBeGreaterThan(2);

    const second = await start(modelFiles);
    const status = await second.rec.status();
    expect(second.loaded).toHaveLength(2);
    expect(status.rankerVariant).toBe(chosen.rankerVariant);
    expect(status.backend).toEqual(chosen.backend);
    // The same models on the same events; only the request time (a context feature) has moved on.
    const again = await second.rec.recommend({ k: 10 });
    expect(again.items.map((i) => i.itemId)).toEqual(feed.items.map((i) => i.itemId));
    for (const [i, item] of again.items.entries()) expect(item.utility).toBeCloseTo(feed.items[i].utility, 3);
  });
});
