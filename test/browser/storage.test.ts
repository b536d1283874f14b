/**
 * The engine's IndexedDB storage (src/engine/storage/) in headless Chromium, on real IndexedDB, with the
 * real bundle the browser project's global setup builds into test/generated/bundle/ (fetched over HTTP
 * from the Vite server, as an engine would fetch it from the server API).
 *
 * Quota is tested for real, not faked (see the quota block, first so that it usually finds a context that
 * has not written yet). Chromium reports a refusal at commit: every put succeeds, then the transaction
 * aborts with an error named QuotaExceededError (in Chromium 156 its constructor is also named
 * QuotaExceededError, and its message is empty), so the storage matches on the name.
 * `navigator.storage.estimate()` does not show a quota set through DevTools.
 */
import { deleteDB, openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import { cdp } from 'vitest/browser';
import {
  Bundle,
  type BundleManifest,
  type BundleSource,
  BundleSourceError,
  type FileRef,
  httpBundleSource,
  IntegrityError,
  sha256Hex,
} from '../../src/core/bundle/index.ts';
import { type Event, EventValidationError, validateEvent } from '../../src/core/events.ts';
import {
  CachedFileIntegrityError,
  EngineStorage,
  IncompleteVersionError,
  manifestFiles,
  NotCachedError,
  QuotaExceededStorageError,
  StorageClosedError,
  type StorageWarning,
  type UserState,
  VerifiedFiles,
} from '../../src/engine/storage/index.ts';
import { emptyUserState } from '../../src/engine/sync/embedding.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin);
const latest = (await (await fetch(new URL('latest.json', BUNDLES))).json()) as { version: string };
const VERSION = latest.version;
const BASE_URL = new URL(`${VERSION}/`, BUNDLES).href;

/** A network source that counts what it is asked for, and can be told to fail. */
function countingSource(inner: BundleSource, failOn?: (path: string, call: number) => boolean) {
  const reads: string[] = [];
  const source: BundleSource = {
    readText: async (path) => {
      reads.push(path);
      if (failOn?.(path, reads.length)) throw new BundleSourceError(`simulated failure on ${path}`, path);
      return inner.readText(path);
    },
    readBytes: async (path) => {
      reads.push(path);
      if (failOn?.(path, reads.length)) throw new BundleSourceError(`simulated failure on ${path}`, path);
      return inner.readBytes(path);
    },
    describe: () => inner.describe(),
  };
  return { source, reads };
}

/** The network as seen with no connection: every request fails as `fetch` would. */
const offline = countingSource(
  {
    readText: () => Promise.reject(new Error('unused')),
    readBytes: () => Promise.reject(new Error('unused')),
    describe: () => `${BASE_URL} (offline)`,
  },
  () => true,
);

const http = () => httpBundleSource(BASE_URL);

// Each test gets its own database, deleted afterwards, so tests neither see nor wait on each other.
const opened: EngineStorage[] = [];
const names: string[] = [];
async function fresh(warnings?: StorageWarning[]): Promise<EngineStorage> {
  const name = `edgerec-test-${crypto.randomUUID()}`;
  names.push(name);
  const storage = await EngineStorage.open(name, { onWarning: (w) => warnings?.push(w) });
  opened.push(storage);
  return storage;
}
afterEach(async () => {
  for (const storage of opened.splice(0)) storage.close();
  for (const name of names.splice(0)) await deleteDB(name);
});

/** Reads every file of the bundle through `source` (Bundle.file verifies each against the manifest). */
async function readAll(source: BundleSource): Promise<{ bundle: Bundle; files: Map<string, Uint8Array> }> {
  const bundle = await Bundle.open(source);
  const files = new Map<string, Uint8Array>();
  for (const ref of manifestFiles(bundle.manifest)) files.set(ref.file, await bundle.file(ref));
  return { bundle, files };
}

/** Changes one byte of a stored file, directly in IndexedDB, behind the storage's back. */
async function tamper(
  name: string,
  sha256: string,
  change: (bytes: Uint8Array) => Uint8Array,
): Promise<void> {
  const db = await openDB(name);
  const record = await db.get('files', sha256);
  expect(record).toBeDefined();
  const bytes = change(new Uint8Array(record.bytes).slice());
  await db.put('files', { ...record, bytes: bytes.buffer });
  db.close();
}

/** Byte equality; `toEqual` on typed arrays of 100s of kB takes seconds. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

const flipFirstByte = (bytes: Uint8Array) => {
  bytes[0] ^= 0xff;
  return bytes;
};

/**
 * Quota, for real: DevTools' `Storage.overrideQuotaForOrigin` (through vitest's cdp()) shrinks the quota of
 * this browser context's origin, and IndexedDB refuses writes exactly as on a full disk.
 *
 * Chromium's IndexedDB does not ask the quota manager on every commit: it caches the space left, decaying
 * it linearly over 30 s (BucketContext::GetBucketSpaceToAllot, kBucketSpaceCacheTimeLimit), and asks again
 * only when a transaction wants more than that. In a context that has already written (GiBs left), a
 * smaller quota therefore takes effect only after up to 30 s. `liveQuota` makes it take effect: it sets a
 * 1 KiB quota and writes 1 KiB probes until one is refused (at once in a fresh context); from then on
 * the cached allowance is ~0 and every write asks again, so the quota the test then sets applies. The
 * first test below ends with that allowance still ~0 (nothing written since), so the second one does
 * not wait either.
 */
describe('quota (real: the origin quota shrunk through the DevTools protocol)', () => {
  const origin = location.origin;
  const PROBE_DB = 'edgerec-test-quota-probe';

  async function probeRefused(): Promise<boolean> {
    const db = await openDB(PROBE_DB, 1, { upgrade: (d) => d.createObjectStore('probe') });
    try {
      await db.put('probe', crypto.getRandomValues(new Uint8Array(1024)).buffer, 'probe');
      await db.delete('probe', 'probe');
      return false;
    } catch (error) {
      if ((error as Error).name !== 'QuotaExceededError') throw error;
      return true;
    } finally {
      db.close();
    }
  }

  /** Runs `body` with the quota set to current usage + `headroom` bytes, taking effect at once. */
  async function withQuota<T>(headroom: number, body: () => Promise<T>): Promise<T> {
    const session = cdp();
    try {
      await session.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 1024 });
      const started = performance.now();
      while (!(await probeRefused())) {
        if (performance.now() - started > 40_000) throw new Error('the quota override never took effect');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      const waited = (performance.now() - started) / 1000;
      if (waited > 1) console.info(`quota override took effect after ${waited.toFixed(1)} s`);
      const { usage } = (await session.send('Storage.getUsageAndQuota', { origin })) as { usage: number };
      await session.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + headroom });
      return await body();
    } finally {
      // No quotaSize: back to the browser's own quota.
      await session.send('Storage.overrideQuotaForOrigin', { origin });
      await deleteDB(PROBE_DB);
    }
  }

  it('prefetch, event and user-state writes surface the quota too', async () => {
    const storage = await fresh();
    const v1 = (await Bundle.open(http())).manifest;
    const state: UserState = {
      userId: 'u1',
      longTerm: { vector: Array.from({ length: 64 }, Math.random), modelVersion: VERSION, updatedAt: 1 },
      counts: { click: 0, closeup: 0, save: 0, hide: 0 },
      hidden: [],
      updatedAt: 1,
    };
    await withQuota(0, async () => {
      const prefetch = await storage.prefetch(http(), v1).catch((e: unknown) => e);
      expect(prefetch).toBeInstanceOf(QuotaExceededStorageError);
      expect((prefetch as QuotaExceededStorageError).what).toBe(`manifest of ${VERSION}`);
      await expect(storage.putUserState(state)).rejects.toThrow(QuotaExceededStorageError);
      const refused = await storage.appendEvent(event(1)).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(QuotaExceededStorageError);
      expect((refused as QuotaExceededStorageError).what).toBe('event e1');
    });
    expect(await storage.versions()).toEqual([]);
    expect(await storage.userState('u1')).toBeUndefined();
    expect(await storage.unsynced(10)).toEqual([]);
    // No write after the quota is back: the next test's override then takes effect at once (see above).
  });

  it('a bundle file that does not fit fails with QuotaExceededStorageError, not silently', async () => {
    const storage = await fresh();
    // Room for the manifest (27 kB) but not for the first file read, the 205 kB f32 item table.
    const error = await withQuota(100_000, () => readAll(storage.cachedSource(http(), VERSION))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QuotaExceededStorageError);
    const quota = error as QuotaExceededStorageError;
    const manifest = (await storage.manifestRecord(VERSION))!.manifest;
    const first = manifestFiles(manifest)[0];
    expect(quota.what).toBe(`file ${first.file}`);
    expect(quota.bytes).toBe(first.bytes);
    expect((quota.cause as DOMException).name).toBe('QuotaExceededError');
    console.info(`quota refusal: ${quota.message}`);
    // Nothing half-stored: the refused file is absent, and with room again the same reads store it all.
    const db = await openDB(storage.name);
    expect(await db.count('files')).toBe(0);
    db.close();
    await readAll(storage.cachedSource(http(), VERSION));
    await readAll(storage.cachedSource(undefined, VERSION));
  });
});

describe('bundle cache', () => {
  it('a start loads what it just downloaded from memory: a stored copy changed meanwhile is never read', async () => {
    const storage = await fresh();
    const network = await readAll(http());
    const manifest = network.bundle.manifest;
    const verified = new VerifiedFiles();
    await storage.prefetch(http(), manifest, undefined, manifestFiles, verified);
    // Every stored copy changed behind the storage's back after its download; same length, same storedAt.
    for (const ref of manifestFiles(manifest)) await tamper(storage.name, ref.sha256, flipFirstByte);
    // The same start reads them offline: the downloaded, verified bytes, not the stored copies.
    const loaded = await readAll(storage.cachedSource(undefined, VERSION, verified));
    for (const [file, bytes] of network.files)
      expect(sameBytes(loaded.files.get(file)!, bytes), file).toBe(true);
  });

  it('stores a real bundle read over HTTP, then serves it offline, every file from IndexedDB and verified', async () => {
    const storage = await fresh();
    const network = countingSource(http());
    const online = await readAll(storage.cachedSource(network.source, VERSION));
    const refs = manifestFiles(online.bundle.manifest);
    expect(refs.length).toBeGreaterThanOrEqual(10);
    // The manifest and each file fetched exactly once.
    expect(network.reads.sort()).toEqual(['manifest.json', ...refs.map((r) => r.file)].sort());

    // Reopened (a new page load), with a network that always fails, and with none at all.
    storage.close();
    const reopened = await EngineStorage.open(storage.name);
    opened.push(reopened);
    offline.reads.length = 0;
    for (const network of [offline.source, undefined]) {
      const cached = await readAll(reopened.cachedSource(network, VERSION));
      expect(cached.bundle.manifest).toEqual(online.bundle.manifest);
      for (const ref of refs) {
        const bytes = cached.files.get(ref.file)!;
        expect(sameBytes(bytes, online.files.get(ref.file)!)).toBe(true);
        expect(await sha256Hex(bytes)).toBe(ref.sha256);
      }
      // The parts the engine decodes, decoded from the cache.
      expect((await cached.bundle.catalog()).ids.length).toBe(cached.bundle.manifest.catalog.count);
      const table = await cached.bundle.itemTable('i8');
      expect(table.scales?.length).toBe(table.count);
    }
    expect(offline.reads).toEqual([]);
  });

  it('says plainly when something is neither cached nor fetchable', async () => {
    const storage = await fresh();
    await expect(Bundle.open(storage.cachedSource(undefined, VERSION))).rejects.toThrow(NotCachedError);
    await expect(Bundle.open(storage.cachedSource(offline.source, VERSION))).rejects.toThrow(
      /simulated failure on manifest\.json/,
    );
    // Once the manifest is cached, a missing file is a NotCachedError (a BundleSourceError) by name.
    await storage.cachedSource(http(), VERSION).readText('manifest.json');
    const bundle = await Bundle.open(storage.cachedSource(undefined, VERSION));
    const error = await bundle.file(bundle.manifest.catalog).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotCachedError);
    expect(error).toBeInstanceOf(BundleSourceError);
    expect((error as Error).message).toContain(bundle.manifest.catalog.file);
    // Only files the manifest lists are served: nothing else could be verified.
    await expect(storage.cachedSource(http(), VERSION).readBytes('latest.json')).rejects.toThrow(
      /not a file of bundle/,
    );
  });

  it('refuses a network manifest of another version', async () => {
    const storage = await fresh();
    await expect(
      storage.cachedSource(http(), 'some-other-version').readText('manifest.json'),
    ).rejects.toThrow(/expected some-other-version/);
    expect(await storage.versions()).toEqual([]);
  });

  it('detects a cached file tampered with in IndexedDB, deletes it and fetches it again', async () => {
    const warnings: StorageWarning[] = [];
    const storage = await fresh(warnings);
    const { bundle, files } = await readAll(storage.cachedSource(http(), VERSION));
    const table = bundle.manifest.items.find((t) => t.dtype === 'f32')!;
    const model = bundle.manifest.rankers[0];
    await tamper(storage.name, table.sha256, flipFirstByte);
    // Same length, so only the hash can tell; and a truncated one, which the length check catches first.
    await tamper(storage.name, model.sha256, (bytes) => bytes.subarray(0, bytes.length - 1).slice());

    const network = countingSource(http());
    const again = await readAll(storage.cachedSource(network.source, VERSION));
    expect(sameBytes(again.files.get(table.file)!, files.get(table.file)!)).toBe(true);
    expect(sameBytes(again.files.get(model.file)!, files.get(model.file)!)).toBe(true);
    expect(network.reads.sort()).toEqual([table.file, model.file].sort());
    const corrupt = warnings.filter((w) => w.kind === 'corrupt-file');
    expect(corrupt.map((w) => [w.file, w.kind === 'corrupt-file' && w.error.check]).sort()).toEqual(
      [
        [table.file, 'sha256'],
        [model.file, 'bytes'],
      ].sort(),
    );
    // The refetched copies were stored: offline works again.
    await readAll(storage.cachedSource(undefined, VERSION));
  });

  it('with the network down, a tampered file is a clear IntegrityError, never bad bytes', async () => {
    const warnings: StorageWarning[] = [];
    const storage = await fresh(warnings);
    const { bundle } = await readAll(storage.cachedSource(http(), VERSION));
    const ref = bundle.manifest.catalog;
    await tamper(storage.name, ref.sha256, flipFirstByte);

    const error = await storage
      .cachedSource(offline.source, VERSION)
      .readBytes(ref.file)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error).toBeInstanceOf(CachedFileIntegrityError);
    expect((error as IntegrityError).check).toBe('sha256');
    expect((error as Error).message).toMatch(/sha256 mismatch.*deleted.*simulated failure/);
    expect(warnings.map((w) => w.kind)).toEqual(['corrupt-file']);
    // The bad copy is gone rather than retried forever; without a network it is now simply missing.
    const db = await openDB(storage.name);
    expect(await db.get('files', ref.sha256)).toBeUndefined();
    db.close();
    await expect(storage.cachedSource(undefined, VERSION).readBytes(ref.file)).rejects.toThrow(
      NotCachedError,
    );
  });

  it('never stores a file the network serves wrong', async () => {
    const storage = await fresh();
    const good = http();
    const bad: BundleSource = {
      ...good,
      readBytes: async (path) => flipFirstByte((await good.readBytes(path)).slice()),
    };
    const bundle = await Bundle.open(storage.cachedSource(bad, VERSION));
    const ref = bundle.manifest.encoders[0];
    await expect(bundle.file(ref)).rejects.toThrow(IntegrityError);
    const db = await openDB(storage.name);
    expect(await db.count('files')).toBe(0);
    db.close();
  });
});

/**
 * A second version of the real bundle: its f32 item table and two rankers replaced by new content (so new
 * hashes and file names), everything else shared with the first — as a retrain that kept the catalog.
 */
async function nextVersion(manifest: BundleManifest, base: BundleSource) {
  const next: BundleManifest = structuredClone(manifest);
  next.version = `${manifest.version}-next`;
  const extra = new Map<string, Uint8Array>();
  const replace = async (ref: FileRef) => {
    const bytes = (await base.readBytes(ref.file)).slice();
    bytes[bytes.length - 1] ^= 0x01;
    ref.sha256 = await sha256Hex(bytes);
    ref.file = ref.file.replace(/\.[0-9a-f]{12}\./, `.${ref.sha256.slice(0, 12)}.`);
    extra.set(ref.file, bytes);
  };
  await replace(next.items.find((t) => t.dtype === 'f32')!);
  await replace(next.rankers[0]);
  await replace(next.rankers[1]);
  const source: BundleSource = {
    readText: (path) => base.readText(path),
    readBytes: async (path) => extra.get(path) ?? base.readBytes(path),
    describe: () => `${base.describe()} (+ ${next.version})`,
  };
  return { manifest: next, source, newFiles: [...extra.keys()] };
}

describe('versions', () => {
  it('switches only after a complete prefetch; one failing midway leaves current on the old version', async () => {
    const storage = await fresh();
    const v1 = (await Bundle.open(http())).manifest;
    expect(await storage.currentVersion()).toBeUndefined();
    await expect(storage.setCurrent(VERSION)).rejects.toThrow(IncompleteVersionError);

    const progress: number[] = [];
    await storage.prefetch(http(), v1, (p) => progress.push(p.loadedFiles));
    expect(progress.length).toBe(manifestFiles(v1).length);
    await storage.setCurrent(VERSION);
    expect(await storage.currentVersion()).toBe(VERSION);

    const v2 = await nextVersion(v1, http());
    // The second new file fails: the others in flight finish, then prefetch throws.
    let newReads = 0;
    const flaky = countingSource(v2.source, (path) => v2.newFiles.includes(path) && ++newReads === 2);
    await expect(storage.prefetch(flaky.source, v2.manifest)).rejects.toThrow(/simulated failure/);
    expect(await storage.currentVersion()).toBe(VERSION);
    expect(await storage.meta('pending')).toBe(v2.manifest.version);
    const incomplete = await storage.setCurrent(v2.manifest.version).catch((e: unknown) => e);
    expect(incomplete).toBeInstanceOf(IncompleteVersionError);
    expect((incomplete as IncompleteVersionError).missing.length).toBeGreaterThanOrEqual(1);
    expect(await storage.currentVersion()).toBe(VERSION);
    // The old version still runs offline.
    await readAll(storage.cachedSource(undefined, VERSION));

    // A retry resumes: only what is missing is downloaded.
    const retry = countingSource(v2.source);
    const fromCache: boolean[] = [];
    await storage.prefetch(retry.source, v2.manifest, (p) => fromCache.push(p.fromCache));
    expect(retry.reads.length).toBe((incomplete as IncompleteVersionError).missing.length);
    expect(fromCache.filter((c) => !c).length).toBe(retry.reads.length);
    await storage.setCurrent(v2.manifest.version);
    expect(await storage.currentVersion()).toBe(v2.manifest.version);
    expect(await storage.meta('previous')).toBe(VERSION);
    expect(await storage.meta('pending')).toBeUndefined();
    const switched = await readAll(storage.cachedSource(undefined, v2.manifest.version));
    expect(switched.bundle.manifest.version).toBe(v2.manifest.version);

    // Pruning to the new version removes the three files only the old one used, and its manifest.
    expect(await storage.pruneExcept([])).toEqual({ removedVersions: [VERSION], removedFiles: 3 });
    expect(await storage.versions()).toEqual([v2.manifest.version]);
    expect(await storage.meta('previous')).toBeUndefined();
    await readAll(storage.cachedSource(undefined, v2.manifest.version));
    await expect(Bundle.open(storage.cachedSource(undefined, VERSION))).rejects.toThrow(NotCachedError);
  });

  it('re-verifies every file before switching, and refuses a version with a corrupt one', async () => {
    const warnings: StorageWarning[] = [];
    const storage = await fresh(warnings);
    const v1 = (await Bundle.open(http())).manifest;
    await storage.prefetch(http(), v1);
    await tamper(storage.name, v1.encoders[0].sha256, flipFirstByte);
    const error = await storage.setCurrent(VERSION).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IncompleteVersionError);
    expect((error as IncompleteVersionError).missing).toEqual([v1.encoders[0].file]);
    expect(await storage.currentVersion()).toBeUndefined();
    expect(warnings.map((w) => w.kind)).toEqual(['corrupt-file']);
  });
});

function event(i: number, over: Partial<Event> = {}): Event {
  return {
    id: `e${i}`,
    userId: 'u1',
    itemId: `i${i % 7}`,
    action: 'click',
    ts: 1_700_000_000_000 + i * 1000,
    ...over,
  };
}

describe('events and user state', () => {
  it('userSnapshot: the state and the newest events in one read, equal to a backward walk, ties included', async () => {
    const storage = await fresh();
    // Six events share one ts (ties broken by id in the index), around others before and after.
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) {
      const ts = 1_700_000_000_000 + (i < 7 ? i : i < 13 ? 7 : i) * 1000;
      await storage.appendEvent(event(i, { ts }));
      ids.push(i);
    }
    await storage.appendEvent(event(50, { userId: 'u2' }));
    await storage.putUserState({ ...emptyUserState('u1'), hidden: ['i3'] });
    // What the stepping cursor gave: walk back by (ts, id) from the newest, then oldest first.
    const walk = (limit: number) =>
      ids
        .map((i) => event(i, { ts: 1_700_000_000_000 + (i < 7 ? i : i < 13 ? 7 : i) * 1000 }))
        .sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1))
        .slice(-limit)
        .map((e) => e.id);
    for (const limit of [1, 2, 7, 9, 10, 13, 14, 20, 25, 500]) {
      const snapshot = await storage.userSnapshot('u1', limit);
      expect(
        snapshot.events.map((e) => e.id),
        `limit ${limit}`,
      ).toEqual(walk(limit));
      expect((await storage.recentEvents('u1', limit)).map((e) => e.id)).toEqual(walk(limit));
      expect(snapshot.user?.hidden).toEqual(['i3']);
    }
    expect(await storage.userSnapshot('nobody', 10)).toEqual({ user: undefined, events: [] });
    expect((await storage.userSnapshot('u1', 0)).events).toEqual([]);
  });

  it('userSnapshot from memory: an append folds in, any other write or another connection reads again', async () => {
    const storage = await fresh();
    // A second connection to the same database, as another tab's engine has.
    const other = await EngineStorage.open(storage.name);
    opened.push(other);
    const reread = async (limit: number) => {
      const third = await EngineStorage.open(storage.name);
      opened.push(third);
      return third.userSnapshot('u1', limit);
    };
    const limit = 5;
    for (let i = 0; i < 4; i++) await storage.appendEvent(event(i));
    expect((await storage.userSnapshot('u1', limit)).events.map((e) => e.id)).toEqual([
      'e0',
      'e1',
      'e2',
      'e3',
    ]);
    // Appended through this storage, out of order, a tie on ts, past the limit: the cached copy follows.
    const counted = (current: UserState | undefined) => {
      const user = current ?? emptyUserState('u1');
      user.counts.click++;
      return user;
    };
    await storage.appendEvent(event(9, { ts: 1_700_000_000_000 + 1000 }), counted);
    await storage.appendEvent(event(7), counted);
    await storage.appendEvent(event(8, { ts: 1_700_000_000_000 + 500 }), counted);
    expect(await storage.appendEvent(event(7), counted)).toBe(false);
    const afterAppends = await storage.userSnapshot('u1', limit);
    expect(afterAppends).toEqual(await reread(limit));
    expect(afterAppends.events.map((e) => e.id)).toEqual(['e1', 'e9', 'e2', 'e3', 'e7']);
    expect(afterAppends.user?.counts.click).toBe(3);
    // A caller may reorder what it got: the cache keeps its own array.
    afterAppends.events.reverse();
    expect((await storage.userSnapshot('u1', limit)).events.map((e) => e.id)).toEqual([
      'e1',
      'e9',
      'e2',
      'e3',
      'e7',
    ]);
    // Another write of this storage (the sync client's, on-device learning's) is read again.
    await storage.putUserState({ ...emptyUserState('u1'), hidden: ['i3'] });
    expect((await storage.userSnapshot('u1', limit)).user?.hidden).toEqual(['i3']);
    // A read-modify-write of this storage alone (a learning run's) folds in like an append.
    await storage.updateUserState('u1', (current) => ({ ...current!, hidden: ['i3', 'i5', 'i6'] }));
    const afterUpdate = await storage.userSnapshot('u1', limit);
    expect(afterUpdate.user?.hidden).toEqual(['i3', 'i5', 'i6']);
    expect(afterUpdate).toEqual(await reread(limit));
    // Another connection's writes reach this one when its message arrives.
    await other.appendEvent(event(20));
    await other.updateUserState('u1', (current) => ({ ...current!, hidden: ['i3', 'i4'] }));
    const deadline = performance.now() + 5000;
    let seen = await storage.userSnapshot('u1', limit);
    while (seen.user?.hidden.length !== 2 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      seen = await storage.userSnapshot('u1', limit);
    }
    expect(seen).toEqual(await reread(limit));
    expect(seen.events.at(-1)?.id).toBe('e20');
  });

  it('userSnapshot: a read that a write overtakes does not cache what it read', async () => {
    const storage = await fresh();
    await storage.appendEvent(event(0));
    // The read's transaction starts first; the write commits before the read is looked at again.
    const reading = storage.userSnapshot('u1', 10);
    const writing = storage.putUserState({ ...emptyUserState('u1'), hidden: ['i5'] });
    await Promise.all([reading, writing]);
    expect((await storage.userSnapshot('u1', 10)).user?.hidden).toEqual(['i5']);
  });

  it('appends (idempotent by id), reads recent ones per user, and drains the outbox', async () => {
    const storage = await fresh();
    // Appended out of time order: reads follow ts, not insertion.
    for (const i of [3, 1, 4, 0, 2, 5]) expect(await storage.appendEvent(event(i))).toBe(true);
    await storage.appendEvent(event(10, { userId: 'u2', action: 'save', surface: 'feed', dwellMs: 1200 }));
    expect(await storage.appendEvent(event(3))).toBe(false);
    await expect(storage.appendEvent({ ...event(20), extra: 1 } as Event)).rejects.toThrow(
      EventValidationError,
    );

    const recent = await storage.recentEvents('u1', 3);
    expect(recent.map((e) => e.id)).toEqual(['e3', 'e4', 'e5']);
    // What comes back is a valid Event: the outbox flag does not leak.
    for (const e of recent) expect(validateEvent(e)).toEqual(e);
    expect(await storage.recentEvents('u2', 10)).toEqual([
      event(10, { userId: 'u2', action: 'save', surface: 'feed', dwellMs: 1200 }),
    ]);
    expect(await storage.recentEvents('nobody', 10)).toEqual([]);
    expect(await storage.recentEvents('u1', 0)).toEqual([]);

    expect((await storage.unsynced(100)).map((e) => e.id)).toEqual([
      'e0',
      'e1',
      'e2',
      'e3',
      'e4',
      'e5',
      'e10',
    ]);
    expect((await storage.unsynced(2)).map((e) => e.id)).toEqual(['e0', 'e1']);
    expect(await storage.markSynced(['e0', 'e1', 'e2', 'unknown'])).toBe(3);
    expect(await storage.markSynced(['e0'])).toBe(0);
    expect((await storage.unsynced(100)).map((e) => e.id)).toEqual(['e3', 'e4', 'e5', 'e10']);
    // A re-append of a synced event does not put it back in the outbox.
    expect(await storage.appendEvent(event(0))).toBe(false);
    expect((await storage.unsynced(100)).map((e) => e.id)).not.toContain('e0');
    // Synced events stay in the local log: the encoder still reads them.
    expect((await storage.recentEvents('u1', 100)).length).toBe(6);
  });

  it('counts the outbox with an index count, filters it per user, and keeps refused events local only', async () => {
    const storage = await fresh();
    for (const i of [0, 1, 2, 3]) await storage.appendEvent(event(i));
    await storage.appendEvent(event(4, { userId: 'u2' }));
    await storage.appendEvent(event(5, { userId: 'u2' }));
    expect(await storage.countUnsynced()).toBe(6);
    expect((await storage.unsynced(100, 'u2')).map((e) => e.id)).toEqual(['e4', 'e5']);
    expect((await storage.unsynced(3, 'u1')).map((e) => e.id)).toEqual(['e0', 'e1', 'e2']);
    await storage.markSynced(['e0']);
    // Local only: out of the outbox for good, still in the log the encoder reads, valid Events.
    expect(await storage.markLocalOnly(['e0', 'e1', 'unknown'], 'refused by the server (400): surface')).toBe(
      1,
    );
    expect(await storage.markLocalOnly(['e1'], 'again')).toBe(0);
    expect(await storage.countUnsynced()).toBe(4);
    expect(await storage.countLocalOnly()).toBe(1);
    expect((await storage.unsynced(100, 'u1')).map((e) => e.id)).toEqual(['e2', 'e3']);
    const log = await storage.recentEvents('u1', 10);
    expect(log.map((e) => e.id)).toEqual(['e0', 'e1', 'e2', 'e3']);
    for (const e of log) expect(validateEvent(e)).toEqual(e);
    const db = await openDB(storage.name);
    expect(await db.get('events', 'e1')).toMatchObject({
      synced: 2,
      localReason: expect.stringMatching(/400/),
    });
    db.close();
  });

  it('trims the log to the newest events, never one pending upload or set aside', async () => {
    const storage = await fresh();
    for (let i = 0; i < 30; i++) await storage.appendEvent(event(i));
    await storage.appendEvent(event(100, { userId: 'u2' }));
    // Old events in every state: e0–e4 pending, e5 set aside, e6–e9 local only, e10–e29 synced.
    await storage.markSetAside(['e5'], 'refused by the server (400)');
    await storage.markLocalOnly(['e6', 'e7', 'e8', 'e9'], 'recorded in privacy mode');
    await storage.markSynced(Array.from({ length: 20 }, (_, i) => `e${i + 10}`));
    expect(await storage.trimEvents('u1', 8)).toBe(30 - 8 - 6);
    const kept = (await storage.recentEvents('u1', 100)).map((e) => e.id);
    expect(kept).toEqual([
      'e0',
      'e1',
      'e2',
      'e3',
      'e4',
      'e5',
      ...Array.from({ length: 8 }, (_, i) => `e${i + 22}`),
    ]);
    expect((await storage.unsynced(100, 'u1')).map((e) => e.id)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect((await storage.setAsideEvents(10)).map((a) => a.event.id)).toEqual(['e5']);
    // Other users' logs are theirs to trim.
    expect(await storage.recentEvents('u2', 10)).toHaveLength(1);
    expect(await storage.trimEvents('u1', 8)).toBe(0);
  });

  it('decides privacy in the append: local only while the flag is on, and turning it on empties the outbox', async () => {
    const storage = await fresh();
    const empty = (): UserState => ({
      userId: 'u1',
      counts: { click: 0, closeup: 0, save: 0, hide: 0 },
      hidden: [],
      updatedAt: 0,
    });
    await storage.appendEvent(event(1));
    expect(await storage.setPrivacy('u1', true, empty)).toBe(1);
    await storage.appendEvent(event(2), (user) => ({ ...(user ?? empty()), updatedAt: 2 }));
    await storage.setPrivacy('u1', false, empty);
    await storage.appendEvent(event(3));
    expect((await storage.unsynced(10)).map((e) => e.id)).toEqual(['e3']);
    expect(await storage.countLocalOnly()).toBe(2);
    // The callback's state was stored, and could not turn the flag off on the way.
    expect(await storage.userState('u1')).toMatchObject({ updatedAt: 2, privacy: false });
  });

  it('updates user state read-modify-write in one transaction, without losing a concurrent update', async () => {
    const storage = await fresh();
    const empty = (): UserState => ({
      userId: 'u1',
      counts: { click: 0, closeup: 0, save: 0, hide: 0 },
      hidden: [],
      updatedAt: 0,
    });
    await Promise.all([
      ...Array.from({ length: 5 }, () =>
        storage.updateUserState('u1', (s) => {
          const next = s ?? empty();
          next.counts.click++;
          return next;
        }),
      ),
      storage.updateUserState('u1', (s) => ({
        ...(s ?? empty()),
        longTerm: { vector: [1, 0], modelVersion: VERSION, updatedAt: 7 },
      })),
    ]);
    const state = await storage.userState('u1');
    expect(state?.counts.click).toBe(5);
    expect(state?.longTerm).toEqual({ vector: [1, 0], modelVersion: VERSION, updatedAt: 7 });
    await expect(storage.updateUserState('u1', (s) => ({ ...s!, userId: 'u2' }))).rejects.toThrow(/not u1/);
  });

  it('round-trips user state', async () => {
    const storage = await fresh();
    expect(await storage.userState('u1')).toBeUndefined();
    const state: UserState = {
      userId: 'u1',
      longTerm: { vector: [0.25, -1.5, 3e-8, 0], modelVersion: VERSION, updatedAt: 1_700_000_000_000 },
      counts: { click: 3, closeup: 1, save: 2, hide: 1 },
      hidden: ['i4'],
      updatedAt: 1_700_000_000_500,
    };
    await storage.putUserState(state);
    expect(await storage.userState('u1')).toEqual(state);
    const updated = { ...state, longTerm: undefined, hidden: ['i4', 'i9'], updatedAt: state.updatedAt + 1 };
    await storage.putUserState(updated);
    expect(await storage.userState('u1')).toEqual(updated);
    await expect(storage.putUserState({ ...state, userId: '' })).rejects.toThrow(/userId/);
  });
});

describe('lifecycle', () => {
  it('clear() empties every store', async () => {
    const storage = await fresh();
    const v1 = (await Bundle.open(http())).manifest;
    await storage.prefetch(http(), v1);
    await storage.setCurrent(VERSION);
    await storage.appendEvent(event(1));
    await storage.putUserState({
      userId: 'u1',
      counts: { click: 1, closeup: 0, save: 0, hide: 0 },
      hidden: [],
      updatedAt: 1,
    });
    await storage.setMeta('syncCursor', 42);
    await storage.clear();
    expect(await storage.currentVersion()).toBeUndefined();
    expect(await storage.versions()).toEqual([]);
    expect(await storage.meta('syncCursor')).toBeUndefined();
    expect(await storage.recentEvents('u1', 10)).toEqual([]);
    expect(await storage.unsynced(10)).toEqual([]);
    expect(await storage.userState('u1')).toBeUndefined();
    const db = await openDB(storage.name);
    expect(await db.count('files')).toBe(0);
    db.close();
  });

  it('refuses reserved meta keys and calls after close()', async () => {
    const storage = await fresh();
    await expect(storage.setMeta('current', 'x')).rejects.toThrow(/managed by EngineStorage/);
    storage.close();
    await expect(storage.currentVersion()).rejects.toThrow(StorageClosedError);
  });

  it('steps aside when another tab opens a newer schema, instead of blocking it', async () => {
    const warnings: StorageWarning[] = [];
    const storage = await fresh(warnings);
    const newer = await openDB(storage.name, 99);
    newer.close();
    expect(warnings.map((w) => w.kind)).toEqual(['closed']);
    await expect(storage.currentVersion()).rejects.toThrow(StorageClosedError);
  });
});
