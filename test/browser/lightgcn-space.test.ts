import { afterAll, describe, expect, it } from 'vitest';
import { Bundle, httpBundleSource } from '../../src/core/bundle/index.ts';
import { createRecommender, type Recommender } from '../../src/sdk/index.ts';

// A bundle whose retrieval space is LightGCN's (test/browser/setup/lightgcn-bundle.global.ts).
const BUNDLES = new URL('/test/generated/lightgcn/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const opened: Recommender[] = [];

interface Expected {
  version: string;
  retrieval: { model: string; chosenBy: string };
  itemsSha256: string;
  encoderValidationCosine: number;
}

afterAll(async () => {
  for (const r of opened) await r.dispose().catch(() => {});
});

describe('a bundle in LightGCN space', () => {
  it("ships LightGCN's item table, says so in the manifest and status, and retrieves from it", async () => {
    const expected = (await (await fetch(`${BUNDLES}expected.json`)).json()) as Expected;
    const bundle = await Bundle.open(httpBundleSource(`${BUNDLES}${expected.version}/`));
    expect(bundle.manifest.retrieval).toMatchObject({ model: 'lightgcn', chosenBy: 'only-candidate' });
    // The table the browser scans is the run's LightGCN table, byte for byte.
    const f32 = bundle.manifest.items.find((t) => t.dtype === 'f32');
    expect(f32?.sha256).toBe(expected.itemsSha256);
    // The encoder was distilled to LightGCN's (unit-length) fold-in users: its held-out cosine to them is
    // recorded. Two epochs on 300 users give about 0.47; unrelated 64-d directions give 0 ± 0.13.
    expect(expected.encoderValidationCosine).toBeGreaterThan(0.3);
    expect(expected.encoderValidationCosine).toBeLessThanOrEqual(1);

    const rec = await createRecommender({
      bundleUrl: BUNDLES,
      userId: `user-${run}`,
      databaseName: `edgerec-lightgcn-test-${run}`,
    });
    opened.push(rec);
    const status = await rec.status();
    expect(status.retrievalSpace).toBe('lightgcn');
    expect(status.modelVersion).toBe(expected.version);
    const { ids } = await bundle.catalog();
    for (const itemId of ids.slice(0, 3)) await rec.record({ itemId, action: 'save' });
    const warm = await rec.recommend({ k: 20 });
    expect(warm.items).toHaveLength(20);
    expect(warm.backend.retrieval).not.toBe('js');
    expect(warm.items.some((i) => i.reason.kind !== 'popular')).toBe(true);
  });
});
