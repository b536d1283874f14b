/**
 * rec.cache through the worker: info() counts the versions and the bytes actually stored (the manifest's
 * sizes of the files this device needs), persist() asks the browser from the page and info().persisted
 * agrees with it; prune() keeps the current version only and says what it freed. Two versions come from a
 * real copy of the test bundle whose catalog differs by one trailing byte (a new version, published with
 * latest.json, picked up by sync()).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { commands } from 'vitest/browser';
import { createRecommender, type Recommender } from '../../src/sdk/index.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const root = `test/generated/cache-${run}`;
const opened: Recommender[] = [];
const written: string[] = [];
afterAll(async () => {
  for (const r of opened) await r.dispose().catch(() => {});
  for (const path of written) await commands.removeFile(path).catch(() => {});
});

function base64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

async function write(path: string, bytes: Uint8Array): Promise<void> {
  written.push(`${root}/${path}`);
  await commands.writeFile(`${root}/${path}`, base64(bytes), 'base64');
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
}

interface Manifest {
  version: string;
  catalog: { file: string; bytes: number; sha256: string };
  [key: string]: unknown;
}

describe('rec.cache', () => {
  it('info(), persist() and prune() on two cached versions', async () => {
    const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
    const manifest: Manifest = await (await fetch(`${BUNDLES}${version}/manifest.json`)).json();
    const files = new Set<string>();
    JSON.stringify(manifest, (key, value) => {
      if (key === 'file' && typeof value === 'string') files.add(value);
      return value;
    });
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    for (const file of files)
      await write(
        `${version}/${file}`,
        new Uint8Array(await (await fetch(`${BUNDLES}${version}/${file}`)).arrayBuffer()),
      );
    await write(`${version}/manifest.json`, encode(manifest));
    await write('latest.json', encode({ version }));

    const events: { file: string; total: number }[] = [];
    const rec = await createRecommender({
      bundleUrl: new URL(`/${root}/`, location.origin).href,
      userId: 'cache',
      databaseName: `edgerec-cache-${run}`,
      onProgress: (p) => {
        if (p.phase === 'download') events.push({ file: p.file!, total: p.total! });
      },
    });
    opened.push(rec);
    const needed = events.at(-1)!.total;
    const one = await rec.cache.info();
    expect(one.versions).toEqual([
      { version, current: true, previous: false, files: expect.any(Number), bytes: needed },
    ]);
    expect(one.bytes).toBe(needed);
    expect(one.files).toBe(new Set(events.map((e) => e.file)).size);
    expect(one.usage).toBeGreaterThanOrEqual(needed);

    const granted = await rec.cache.persist();
    expect(typeof granted).toBe('boolean');
    expect((await rec.cache.info()).persisted).toBe(granted);
    console.info(`navigator.storage.persist() in headless Chromium: ${granted}`);

    // Version two: the same files but a catalog with one more byte (whitespace), so a new hash.
    const v2 = `${version}-b`;
    const catalog = new Uint8Array(
      await (await fetch(`${BUNDLES}${version}/${manifest.catalog.file}`)).arrayBuffer(),
    );
    const changed = new Uint8Array(catalog.length + 1);
    changed.set(catalog);
    changed[catalog.length] = 0x0a;
    const catalogFile = `catalog.v2.json`;
    for (const file of files)
      if (file !== manifest.catalog.file)
        await write(
          `${v2}/${file}`,
          new Uint8Array(await (await fetch(`${BUNDLES}${version}/${file}`)).arrayBuffer()),
        );
    await write(`${v2}/${catalogFile}`, changed);
    await write(
      `${v2}/manifest.json`,
      encode({
        ...manifest,
        version: v2,
        catalog: {
          ...manifest.catalog,
          file: catalogFile,
          bytes: changed.length,
          sha256: await sha256(changed),
        },
      }),
    );
    await write('latest.json', encode({ version: v2 }));
    expect((await rec.sync()).bundle).toBe('updated');

    const two = await rec.cache.info();
    expect(two.versions.map((v) => [v.version, v.current, v.previous]).sort()).toEqual([
      [version, false, true],
      [v2, true, false],
    ]);
    // Shared files are stored once: only the new catalog adds bytes.
    expect(two.bytes).toBe(needed + changed.length);
    expect(two.versions.find((v) => v.version === v2)!.bytes).toBe(needed + 1);

    const pruned = await rec.cache.prune();
    expect(pruned).toEqual({ versions: [version], files: 1, bytes: catalog.length });
    const after = await rec.cache.info();
    expect(after.versions.map((v) => v.version)).toEqual([v2]);
    expect(after.bytes).toBe(needed + 1);
    expect((await rec.recommend({ k: 5 })).modelVersion).toBe(v2);
    expect(await rec.cache.prune()).toEqual({ versions: [], files: 0, bytes: 0 });
  });
});
