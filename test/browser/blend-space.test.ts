import { afterAll, describe, expect, it } from 'vitest';
import { Bundle, httpBundleSource } from '../../src/core/bundle/index.ts';
import { createRecommender, type Recommender } from '../../src/sdk/index.ts';

// A bundle whose retrieval space is the PinnerFormer–LightGCN blend (test/browser/setup/blend-bundle.global.ts).
const BUNDLES = new URL('/test/generated/blend/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const opened: Recommender[] = [];

interface Expected {
  version: string;
  retrieval: { model: string; chosenBy: string; blend: { weight: number } };
  itemsSha256: string;
  encoderValidationCosine: number;
}

afterAll(async () => {
  for (const r of opened) await r.dispose().catch(() => {});
});

describe('a bundle in the blend space (128-wide table)', () => {
  it('ships the concatenated table in every dtype, an encoder to 128-d users, and retrieves from it', async () => {
    const expected = (await (await fetch(`${BUNDLES}expected.json`)).json()) as Expected;
    const bundle = await Bundle.open(httpBundleSource(`${BUNDLES}${expected.version}/`));
    const { manifest } = bundle;
    expect(manifest.retrieval).toMatchObject({ model: 'blend', chosenBy: 'forced' });
    expect(manifest.retrieval?.blend?.weight).toBe(expected.retrieval.blend.weight);
    // PinnerFormer's 64 + LightGCN's 64, in the f32, f16 and i8 tables alike.
    expect(manifest.dim).toBe(128);
    expect(manifest.items.map((t) => [t.dtype, t.dim])).toEqual([
      ['f32', 128],
      ['f16', 128],
      ['i8', 128],
    ]);
    expect(manifest.items.find((t) => t.dtype === 'f32')?.sha256).toBe(expected.itemsSha256);
    // The encoder reads 128-wide item rows and writes a 128-d user: distilled to the concatenated users.
    for (const encoder of manifest.encoders) {
      expect(encoder.inputs.find((i) => i.name === 'items')?.shape.at(-1)).toBe(128);
      expect(encoder.outputs[0].shape).toEqual(['batch', 128]);
    }
    expect(expected.encoderValidationCosine).toBeGreaterThan(0.3);
    expect(expected.encoderValidationCosine).toBeLessThanOrEqual(1);

    const rec = await createRecommender({
      bundleUrl: BUNDLES,
      userId: `user-${run}`,
      databaseName: `edgerec-blend-test-${run}`,
    });
    opened.push(rec);
    const status = await rec.status();
    expect(status.retrievalSpace).toBe('blend');
    expect(status.modelVersion).toBe(expected.version);
    const { ids } = await bundle.catalog();
    for (const itemId of ids.slice(0, 3)) await rec.record({ itemId, action: 'save' });
    const warm = await rec.recommend({ k: 20 });
    expect(warm.items).toHaveLength(20);
    expect(warm.backend.retrieval).not.toBe('js');
    expect(warm.items.some((i) => i.reason.kind !== 'popular')).toBe(true);
  });
});
