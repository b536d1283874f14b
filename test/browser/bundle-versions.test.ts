/**
 * Bundle versions in headless Chromium against the real server: a swap under a stream of recommend()
 * calls, pruning to two versions, a wrong bundle URL, and hashing each file once per start.
 *
 * New versions are published through the admin API of the setup's second server (`versionServer`), whose
 * registry is this file's own: its `latest.json` moves as tests publish. A new version is the running one
 * with one more byte of its i8 item table changed — a new file with a new hash and name, as a retrain
 * makes — and every other file shared.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  Bundle,
  type BundleManifest,
  type FileRef,
  httpBundleSource,
  sha256Hex,
} from '../../src/core/bundle/index.ts';
import { Engine } from '../../src/engine/engine.ts';
import { liveResources } from '../../src/engine/resources.ts';
import { FallbackRetriever } from '../../src/engine/retrieval/select.ts';
import { EngineStorage, manifestFiles } from '../../src/engine/storage/index.ts';
import type { RecommendResult } from '../../src/engine/types.ts';
import { createRecommender, type Recommender } from '../../src/sdk/index.ts';

const { url: SERVER, adminToken } = inject('versionServer');
const REGISTRY = new URL('/v1/bundles/', SERVER).href;
const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
let databases = 0;
const databaseName = () => `edgerec-versions-test-${run}-${++databases}`;

const opened: { dispose(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of opened.splice(0)) await r.dispose().catch(() => {});
}, 120_000);

async function recommender(options: Parameters<typeof createRecommender>[0]): Promise<Recommender> {
  const rec = await createRecommender(options);
  opened.push(rec);
  return rec;
}

const latestManifest = async (): Promise<BundleManifest> => {
  const { version } = await (await fetch(`${REGISTRY}latest.json`, { cache: 'no-store' })).json();
  return (await fetch(`${REGISTRY}${version}/manifest.json`)).json();
};

let published = 0;
/** Publishes (admin API) the latest version with its i8 item table changed by one byte; returns it. */
async function publishNext(): Promise<{ manifest: BundleManifest; table: FileRef }> {
  const base = await latestManifest();
  const next: BundleManifest = structuredClone(base);
  next.version = `${base.version.split('-next')[0]}-next${++published}-${run.slice(-6)}`;
  const files = new Map<string, Uint8Array<ArrayBuffer>>();
  for (const ref of manifestFiles(base))
    files.set(
      ref.file,
      new Uint8Array(await (await fetch(`${REGISTRY}${base.version}/${ref.file}`)).arrayBuffer()),
    );
  const table = next.items.find((t) => t.dtype === 'i8')!;
  const bytes = files.get(table.file)!.slice();
  // A byte of its own per publication: two flips of one byte would bring an older table back.
  bytes[bytes.length - published] ^= 0x01;
  files.delete(table.file);
  table.sha256 = await sha256Hex(bytes);
  table.file = table.file.replace(/\.[0-9a-f]{12}\./, `.${table.sha256.slice(0, 12)}.`);
  files.set(table.file, bytes);
  const auth = { authorization: `Bearer ${adminToken}` };
  for (const [file, content] of files) {
    const put = await fetch(`${SERVER}/v1/admin/bundles/${next.version}/files/${file}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: content,
    });
    expect(put.status, `upload of ${file}`).toBe(201);
  }
  const publish = await fetch(`${SERVER}/v1/admin/bundles/${next.version}/publish`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(next),
  });
  expect(publish.status, await publish.clone().text()).toBe(200);
  return { manifest: next, table: { file: table.file, bytes: table.bytes, sha256: table.sha256 } };
}

describe('bundle swap', () => {
  it('under a stream of recommend() calls: no error, new requests on the new version, and the old version freed — workers and sessions back to one version’s', async () => {
    const v1 = await latestManifest();
    const rec = await recommender({
      bundleUrl: REGISTRY,
      userId: `swap-${run}`,
      databaseName: databaseName(),
      device: 'wasm',
      // Helper workers to leak, if the old version's retriever were not freed (or rebuilt).
      retrievalThreads: 3,
    });
    const ids = (await rec.recommend({ k: 5 })).items.map((i) => i.itemId);
    for (const itemId of ids.slice(0, 3)) await rec.record({ itemId, action: 'save' });
    const before = (await rec.status()).resources;
    expect(before).toMatchObject({ modelStates: 1, ortSessions: 2, cpuRetrievers: 1, gpuRetrievers: 0 });
    expect(before.retrievalWorkers).toBe(2);

    const { manifest: v2 } = await publishNext();
    /** Each answer, with whether its request started after sync() had resolved (the swap done). */
    const results: { result: RecommendResult; afterSwap: boolean }[] = [];
    const errors: unknown[] = [];
    let swapped = false;
    let answeredAfterSwap = 0;
    const stream = async () => {
      while (answeredAfterSwap < 6) {
        const afterSwap = swapped;
        try {
          results.push({ result: await rec.recommend({ k: 10 }), afterSwap });
          if (afterSwap) answeredAfterSwap++;
        } catch (error) {
          errors.push(error);
          if (errors.length > 5) return;
        }
      }
    };
    const streams = [stream(), stream(), stream()];
    // Let requests be in flight when the swap lands.
    while (results.length < 3) await new Promise((r) => setTimeout(r, 20));
    const synced = await rec.sync();
    swapped = true;
    await Promise.all(streams);

    expect(errors).toEqual([]);
    expect(synced).toMatchObject({ bundle: 'updated', version: v2.version });
    const versionsOf = (after: boolean) =>
      new Set(results.filter((r) => r.afterSwap === after).map((r) => r.result.modelVersion));
    // Requests started before the swap ran on v1 (some maybe on v2, if they started during it) …
    expect(versionsOf(false).has(v1.version)).toBe(true);
    // … and every request started after it on v2.
    expect([...versionsOf(true)]).toEqual([v2.version]);
    for (const { result } of results) expect(result.items).toHaveLength(10);
    // The old version is freed after its last request: counts are one version's again.
    await expect.poll(async () => (await rec.status()).resources, { timeout: 10_000 }).toEqual(before);
    expect((await rec.status()).modelVersion).toBe(v2.version);
  }, 300_000);

  it('a retired WebGPU retriever destroys its buffers and, though its device then reports itself lost, builds no CPU retriever (in the page, SwiftShader)', async () => {
    const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
    const table = await (await Bundle.open(httpBundleSource(`${BUNDLES}${version}/`))).itemTable('i8');
    const before = liveResources();
    const retriever = await FallbackRetriever.create(table, 'webgpu');
    expect(retriever.backend).toBe('webgpu');
    const live = liveResources();
    expect(live.gpuRetrievers).toBe(before.gpuRetrievers + 1);
    expect(live.gpuBuffers).toBeGreaterThan(before.gpuBuffers);
    retriever.dispose();
    // The device's `lost` fires after dispose() destroyed it; a fallback would build a CPU kernel then.
    for (let t = 0; t < 30; t++) {
      expect(liveResources()).toEqual(before);
      await new Promise((r) => setTimeout(r, 100));
    }
    await expect(retriever.topK(new Float32Array(table.dim), 5)).rejects.toThrow(/after dispose/);
  });
});

describe('the bundle cache', () => {
  it('after three versions holds two: the current and the previous one, and only their files', async () => {
    const name = databaseName();
    const first = await latestManifest();
    const rec = await recommender({ bundleUrl: REGISTRY, userId: `prune-${run}`, databaseName: name });
    const second = await publishNext();
    expect(await rec.sync()).toMatchObject({ bundle: 'updated', version: second.manifest.version });
    const third = await publishNext();
    expect(await rec.sync()).toMatchObject({ bundle: 'updated', version: third.manifest.version });

    const storage = await EngineStorage.open(name);
    try {
      expect((await storage.versions()).sort()).toEqual(
        [second.manifest.version, third.manifest.version].sort(),
      );
      expect(await storage.currentVersion()).toBe(third.manifest.version);
      expect(await storage.meta('previous')).toBe(second.manifest.version);
    } finally {
      storage.close();
    }
    const { openDB } = await import('idb');
    const db = await openDB(name);
    const hashes = new Set(await db.getAllKeys('files'));
    db.close();
    const firstTable = first.items.find((t) => t.dtype === 'i8')!;
    expect(hashes.has(firstTable.sha256)).toBe(false);
    expect(hashes.has(second.table.sha256)).toBe(true);
    expect(hashes.has(third.table.sha256)).toBe(true);
  }, 300_000);
});

describe('a wrong bundle URL', () => {
  it('is an error naming the URL, not "offline" — even with a bundle cached that it could silently use', async () => {
    const name = databaseName();
    const userId = `typo-${run}`;
    // A first start caches a bundle in this database.
    const ok = await recommender({ bundleUrl: BUNDLES, userId, databaseName: name });
    await ok.dispose();
    // The server's registry, misspelt: it answers 404 for both latest.json and manifest.json.
    const typo = `${SERVER}/v1/bundels/`;
    const error = await createRecommender({ bundleUrl: typo, userId, databaseName: name }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `no edgerec bundle at ${typo}: ${typo}latest.json answered 404 and ${typo}manifest.json 404`,
    );
    // An unreachable host is "offline": the cached bundle runs.
    const offline = await recommender({
      bundleUrl: 'http://127.0.0.1:9/models/',
      userId,
      databaseName: name,
    });
    expect((await offline.status()).online).toBe(false);
    expect((await offline.recommend({ k: 5 })).items).toHaveLength(5);
  }, 300_000);
});

describe('integrity', () => {
  it('hashes each needed file once per start: when downloaded, and once from the cache on the next start (page engine, digest counted)', async () => {
    const name = databaseName();
    const digest = SubtleCrypto.prototype.digest;
    let hashes = 0;
    SubtleCrypto.prototype.digest = function (
      this: SubtleCrypto,
      ...args: Parameters<SubtleCrypto['digest']>
    ) {
      hashes++;
      return digest.apply(this, args);
    } as SubtleCrypto['digest'];
    try {
      const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
      const manifest: BundleManifest = await (await fetch(`${BUNDLES}${version}/manifest.json`)).json();
      const table = manifest.items.find((t) => t.dtype === 'i8')!;
      // The engine loads the students of the fusion validation chose (manifest.defaultRanker) only.
      const fusion = manifest.defaultRanker?.fusion ?? 'late';
      const rankers = manifest.rankers.filter((m) => (m.fusion ?? 'late') === fusion);
      const models = [...rankers, ...manifest.encoders].filter(
        (m) => m.role === 'student' && m.dtype === 'int8',
      );
      const needed = new Set([manifest.catalog, table, table.scales!, ...models].map((r) => r.sha256)).size;
      for (const start of ['download', 'cached']) {
        hashes = 0;
        const engine = new Engine();
        // wasm: hashing does not depend on the device, and `auto` would time a SwiftShader retriever too.
        await engine.init({ bundleUrl: BUNDLES, userId: `hash-${run}`, databaseName: name, device: 'wasm' });
        await engine.dispose();
        expect(hashes, `${start} start`).toBe(needed);
      }
    } finally {
      SubtleCrypto.prototype.digest = digest;
    }
  }, 300_000);
});
