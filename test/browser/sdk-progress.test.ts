/**
 * Byte progress of a real bundle download through the worker: streamed per file (events inside a file,
 * not only at its end), the whole bundle's bytes monotone and ending at the sum of the manifest's sizes of
 * the files this device needs; a second start reports every file as cached, in full.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/core/contract/types.ts';
import { createRecommender, type Recommender } from '../../src/sdk/index.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const databaseName = `edgerec-progress-${run}`;
const opened: Recommender[] = [];
afterAll(async () => {
  for (const r of opened) await r.dispose().catch(() => {});
});

/** Every `file` → `bytes` entry of the manifest. */
async function manifestSizes(): Promise<Map<string, number>> {
  const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
  const manifest = await (await fetch(`${BUNDLES}${version}/manifest.json`)).json();
  const sizes = new Map<string, number>();
  JSON.stringify(manifest, (_key, value) => {
    if (value && typeof value.file === 'string' && typeof value.bytes === 'number')
      sizes.set(value.file, value.bytes);
    return value;
  });
  return sizes;
}

async function start(): Promise<ProgressEvent[]> {
  const events: ProgressEvent[] = [];
  // The f32 table (200 kB) arrives in several chunks, so a file's own progress shows between 0 and done.
  const rec = await createRecommender({
    bundleUrl: BUNDLES,
    userId: 'progress',
    databaseName,
    dtype: 'f32',
    onProgress: (p) => events.push(p),
  });
  opened.push(rec);
  return events;
}

function checkBundleTotals(downloads: ProgressEvent[], sizes: Map<string, number>) {
  const files = new Set(downloads.map((e) => e.file!));
  const sum = [...files].reduce((total, file) => total + sizes.get(file)!, 0);
  for (const e of downloads) {
    expect(e.total).toBe(sum);
    expect(e.fileTotal).toBe(sizes.get(e.file!));
  }
  for (let i = 1; i < downloads.length; i++)
    expect(downloads[i].loaded!).toBeGreaterThanOrEqual(downloads[i - 1].loaded!);
  expect(downloads.at(-1)!.loaded).toBe(sum);
  return files;
}

describe('byte progress', () => {
  it('streams bytes per file and for the bundle, monotone, summing to the manifest sizes; cached on the next start', async () => {
    const sizes = await manifestSizes();
    const first = await start();
    const phases = first.map((e) => e.phase);
    // The phases keep their order: manifest, then downloads, then verify/compile/warm-up, then ready.
    expect(phases[0]).toBe('manifest');
    expect(phases.at(-1)).toBe('ready');
    expect(phases.lastIndexOf('download')).toBeLessThan(phases.indexOf('compile'));
    const downloads = first.filter((e) => e.phase === 'download');
    expect(downloads.every((e) => e.cached === false)).toBe(true);
    const files = checkBundleTotals(downloads, sizes);
    expect([...files].some((f) => f.startsWith('items-f32'))).toBe(true);
    expect([...files].some((f) => f.startsWith('catalog'))).toBe(true);
    let partial = 0;
    for (const file of files) {
      const own = downloads.filter((e) => e.file === file).map((e) => e.fileLoaded!);
      for (let i = 1; i < own.length; i++) expect(own[i]).toBeGreaterThanOrEqual(own[i - 1]);
      expect(own.at(-1)).toBe(sizes.get(file));
      partial += own.filter((loaded) => loaded < sizes.get(file)!).length;
    }
    // How many reads a 200 kB body takes is the browser's choice: on a loaded machine it can arrive in one
    // read, so events inside a file are checked deterministically in test/unit/bundle-stream.test.ts.
    console.info(`${downloads.length} download events for ${files.size} files, ${partial} inside a file`);
    await opened.pop()!.dispose();

    const second = (await start()).filter((e) => e.phase === 'download');
    expect(second.length).toBe(files.size);
    expect(second.every((e) => e.cached === true && e.fileLoaded === e.fileTotal)).toBe(true);
    expect(checkBundleTotals(second, sizes)).toEqual(files);
  });
});
