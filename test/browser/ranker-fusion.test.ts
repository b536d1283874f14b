/**
 * `rankerFusion`: an app can serve the early- or the late-fusion ranker of a bundle that has both, instead
 * of the one the bundle chose on validation; only that fusion's files are downloaded and timed, and a value
 * that is neither is refused before anything loads.
 */
import { describe, expect, it } from 'vitest';
import { Bundle, httpBundleSource, type RankerFusion } from '../../src/core/bundle/index.ts';
import { createRecommender } from '../../src/sdk/index.ts';
import { openedRecommenders } from './opened-recommenders.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const databaseName = `edgerec-fusion-test-${run}`;
const opened = openedRecommenders(databaseName);

describe('rankerFusion', () => {
  it('serves the asked fusion (files, status, a feed), the bundle’s choice by default, and refuses another value', async () => {
    const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
    const { manifest } = await Bundle.open(httpBundleSource(`${BUNDLES}${version}/`));
    const fusionOf = new Map(manifest.rankers.map((r) => [r.file, r.fusion ?? 'late']));
    expect(new Set(fusionOf.values())).toEqual(new Set(['early', 'late']));
    const chosen = manifest.defaultRanker?.fusion ?? 'late';
    const other: RankerFusion = chosen === 'early' ? 'late' : 'early';

    for (const [i, fusion] of [other, undefined].entries()) {
      const rankers: string[] = [];
      const rec = await createRecommender({
        bundleUrl: BUNDLES,
        userId: `user-${i}`,
        databaseName,
        device: 'wasm',
        learning: false,
        ...(fusion ? { rankerFusion: fusion } : {}),
        onProgress: (p) => {
          if (p.phase === 'verify' && p.file && fusionOf.has(p.file)) rankers.push(p.file);
        },
      });
      opened.push(rec);
      const served = fusion ?? chosen;
      expect(rankers.length).toBeGreaterThan(0);
      for (const file of rankers) expect(fusionOf.get(file), file).toBe(served);
      expect((await rec.status()).rankerVariant).toMatch(new RegExp(`, ${served} fusion$`));
      // A user with history, so that the ranker's sequence inputs (early fusion) are fed.
      for (const item of (await rec.recommend({ k: 3 })).items)
        await rec.record({ itemId: item.itemId, action: 'save' });
      const feed = await rec.recommend({ k: 5 });
      expect(feed.items).toHaveLength(5);
      for (const item of feed.items) expect(Number.isFinite(item.utility)).toBe(true);
      await rec.dispose();
    }

    await expect(
      createRecommender({
        bundleUrl: BUNDLES,
        userId: 'user-x',
        databaseName,
        rankerFusion: 'sideways' as RankerFusion,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});
