/**
 * The engine's sync client (src/engine/sync/) in headless Chromium against the real sync server
 * (src/server/), which test/browser/setup/server.global.ts starts over the tiny bundle and run the bundle
 * setup builds. Every check reads the server's own answers (`GET /v1/users/<id>/events`, `/embedding`,
 * `/settings`) or the engine's IndexedDB, never a mock's bookkeeping.
 *
 * Most tests run the engine in its Web Worker (createRecommender), with real timers, the debounce after
 * record() and the pass a start runs. A few run `Engine` in the page, where a test can inject what the
 * worker cannot take over comlink: a fetch that throws (offline) or counts requests, and frozen timers (so
 * no retry or debounce pass runs behind the test's back). Each test says which.
 */
import { openDB } from 'idb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Bundle, httpBundleSource } from '../../src/core/bundle/index.ts';
import { Engine } from '../../src/engine/engine.ts';
import { EngineStorage } from '../../src/engine/storage/index.ts';
import type { SyncClock, SyncMeta } from '../../src/engine/sync/index.ts';
import { createRecommender, createSession, type Recommender } from '../../src/sdk/index.ts';
import { api as serverApi, serverEvents as storedOnServer } from './server-api.ts';

const { url: SERVER, adminToken, closedUrl } = inject('syncServer');
const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
let databases = 0;
const databaseName = () => `edgerec-sync-test-${run}-${++databases}`;

// Engines of a test are disposed after it: their timers stop, and their workers do not pile up.
const opened: { dispose(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of opened.splice(0)) await r.dispose().catch(() => {});
});

async function catalogIds(): Promise<string[]> {
  const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
  return (await (await Bundle.open(httpBundleSource(`${BUNDLES}${version}/`))).catalog()).ids;
}
const ids = await catalogIds();

/** One call of the server's API, as another client (or an admin) would make it. */
const api = <T = Record<string, unknown>>(method: string, path: string, token: string, body?: unknown) =>
  serverApi<T>(SERVER, method, path, token, body);

/** Every event the server stored for the user, oldest first. */
const serverEvents = (userId: string, token: string) => storedOnServer(SERVER, userId, token);

interface Embeddings {
  server: { vector: number[]; modelVersion: string; eventSeq: number; updatedAt: number } | null;
  device: { vector: number[]; modelVersion: string; version: number; updatedAt: number } | null;
}
const embeddings = async (userId: string, token: string) =>
  (await api<Embeddings>('GET', `/v1/users/${userId}/embedding`, token)).body;

/** What the sync client keeps in IndexedDB for a user (read through a second connection). */
async function storedSync(name: string, userId: string) {
  const storage = await EngineStorage.open(name);
  try {
    return {
      meta: await storage.meta<SyncMeta>(`sync:${userId}`),
      user: await storage.userState(userId),
      pending: await storage.countUnsynced(),
      localOnly: await storage.countLocalOnly(),
      setAside: await storage.countSetAside(),
    };
  } finally {
    storage.close();
  }
}

/** Timers that never fire: in-page engines then run passes only on sync(), start() and `online`. */
const frozenTimers = (random = Math.random): SyncClock => ({
  now: () => Date.now(),
  setTimeout: () => 0,
  clearTimeout: () => {},
  random,
});

async function pageEngine(
  options: Parameters<Engine['init']>[0],
  deps: ConstructorParameters<typeof Engine>[0],
): Promise<Engine> {
  const engine = new Engine(deps);
  opened.push(engine);
  // On-device learning has its own files (learning, sync-learning); its background runs here (tfjs and a
  // SwiftShader warm-up, ~10 s each) would only slow this file down.
  await engine.init({ learning: false, ...options });
  return engine;
}

async function recommender(options: Parameters<typeof createRecommender>[0]): Promise<Recommender> {
  const rec = await createRecommender({ learning: false, ...options });
  opened.push(rec);
  return rec;
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('without serverUrl', () => {
  it('runs as before, with sync disabled', async () => {
    const rec = await recommender({
      bundleUrl: BUNDLES,
      userId: `solo-${run}`,
      databaseName: databaseName(),
    });
    expect((await rec.status()).sync).toEqual({ state: 'disabled', privacy: false });
    await rec.record({ itemId: ids[0], action: 'click' });
    const result = await rec.sync();
    expect(result).toMatchObject({
      bundle: 'current',
      events: { uploaded: 0, duplicates: 0, refused: 0, pending: 1 },
      embedding: 'disabled',
      state: 'disabled',
    });
    expect((await rec.status()).pendingEvents).toBe(1);
  });
});

describe('sync client against the real server', () => {
  it('refuses a serverUrl that is not http(s) before loading anything', async () => {
    await expect(
      createRecommender({
        bundleUrl: BUNDLES,
        serverUrl: 'ftp://example.com',
        userId: 'x',
        databaseName: databaseName(),
      }),
    ).rejects.toThrow(/serverUrl: ftp:\/\/example.com is not an http\(s\) URL/);
  });

  it('createSession opens an anonymous user whose token the server accepts', async () => {
    const session = await createSession(SERVER);
    expect(session.userId).toMatch(/^u-/);
    expect(session.expiresAt).toBeGreaterThan(Date.now());
    expect(await serverEvents(session.userId, session.token)).toEqual([]);
  });

  it('offline through the injected fetch (it throws): events stay pending, back off, and upload on `online` (page engine, frozen timers)', async () => {
    const { userId, token } = await createSession(SERVER);
    let offline = true;
    const fetchImpl: typeof fetch = async (input, init) => {
      if (offline) throw new TypeError('Failed to fetch (the test is offline)');
      return fetch(input, init);
    };
    // random() ≈ 1: each retry waits the whole ceiling, so the exponential growth shows.
    const engine = await pageEngine(
      { bundleUrl: BUNDLES, serverUrl: SERVER, userId, token, databaseName: databaseName() },
      { fetch: fetchImpl, clock: frozenTimers(() => 0.999_999) },
    );
    const recorded = [];
    for (const itemId of ids.slice(0, 3)) recorded.push(await engine.record({ itemId, action: 'save' }));
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const result = await engine.sync();
      expect(result).toMatchObject({
        bundle: 'current',
        events: { uploaded: 0, pending: 3 },
        embedding: 'offline',
        state: 'offline',
      });
      delays.push((await engine.status()).sync.nextRetryAt! - Date.now());
    }
    // 1 s, 2 s, 4 s, 8 s, 16 s ceilings (the start pass failed first), less the time the calls took.
    expect(delays[0]).toBeGreaterThan(1500);
    expect(delays[3]).toBeGreaterThan(15_000);
    expect(delays[3]).toBeLessThanOrEqual(16_000);
    const status = await engine.status();
    expect(status).toMatchObject({ pendingEvents: 3, online: false });
    expect(status.sync.lastError).toMatch(/the test is offline/);
    expect(await serverEvents(userId, token)).toEqual([]);

    offline = false;
    globalThis.dispatchEvent(new Event('online'));
    await expect.poll(async () => (await engine.status()).pendingEvents, { timeout: 10_000 }).toBe(0);
    const stored = await serverEvents(userId, token);
    expect(stored.map(({ id, itemId, action, ts }) => ({ id, itemId, action, ts }))).toEqual(
      recorded.map(({ id, itemId, action, ts }) => ({ id, itemId, action, ts })),
    );
    // The pass goes on to the embeddings after the outbox, then settles.
    await expect.poll(async () => (await engine.status()).sync.state, { timeout: 10_000 }).toBe('idle');
    expect((await engine.status()).sync).toMatchObject({ lastSyncAt: expect.any(Number) });
    expect((await engine.status()).sync.nextRetryAt).toBeUndefined();
  });

  it('the outbox survives a reload: recorded against a closed port, uploaded by the next instance on its own', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const first = await recommender({
      bundleUrl: BUNDLES,
      serverUrl: closedUrl,
      userId,
      token,
      databaseName: name,
    });
    const recorded = [];
    for (const itemId of ids.slice(10, 14)) recorded.push(await first.record({ itemId, action: 'click' }));
    const result = await first.sync();
    expect(result).toMatchObject({ events: { uploaded: 0, pending: 4 }, state: 'offline' });
    expect((await first.status()).sync.state).toBe('offline');
    await first.dispose();

    // A new engine on the same database, now with the real server, and bundles from its registry (the
    // version is the same, so they come from IndexedDB). No sync() call: the start pass resumes the outbox.
    const second = await recommender({ serverUrl: SERVER, userId, token, databaseName: name });
    await expect.poll(async () => (await second.status()).pendingEvents, { timeout: 15_000 }).toBe(0);
    const stored = await serverEvents(userId, token);
    expect(stored.map((e) => e.id)).toEqual(recorded.map((e) => e.id));
    await expect.poll(async () => (await second.status()).sync.state, { timeout: 10_000 }).toBe('idle');
    expect((await storedSync(name, userId)).pending).toBe(0);
    // Two engine starts: give a loaded machine room.
  }, 240_000);

  it('uploads each recorded event exactly once, however often and concurrently sync() is called', async () => {
    const { userId, token } = await createSession(SERVER);
    // Bundles from the server's registry only.
    const rec = await recommender({ serverUrl: SERVER, userId, token, databaseName: databaseName() });
    const once = await rec.record({ id: `once-${run}`, itemId: ids[20], action: 'save' });
    // The same id again is the same event: logged once, uploaded once.
    await rec.record({ id: once.id, itemId: ids[20], action: 'save' });
    const results = await Promise.all([rec.sync(), rec.sync(), rec.sync()]);
    results.push(await rec.sync());
    // 250 more (two batches), with syncs racing the debounced passes.
    const many = [];
    for (let i = 0; i < 250; i++)
      many.push(rec.record({ itemId: ids[i % ids.length], action: 'impression' }));
    const concurrent = [rec.sync(), rec.sync()];
    const events = await Promise.all(many);
    results.push(...(await Promise.all([...concurrent, rec.sync(), rec.sync()])));
    results.push(await rec.sync());

    const stored = await serverEvents(userId, token);
    expect(stored).toHaveLength(251);
    expect(new Set(stored.map((e) => e.id)).size).toBe(251);
    expect(stored.filter((e) => e.id === once.id)).toEqual([
      expect.objectContaining({ id: once.id, userId, itemId: ids[20], action: 'save', ts: once.ts }),
    ]);
    expect(new Set(stored.map((e) => e.id))).toEqual(new Set([once.id, ...events.map((e) => e.id)]));
    // Nothing was ever sent twice: the server saw no duplicate.
    expect(results.every((r) => r.events.duplicates === 0)).toBe(true);
    expect(results.at(-1)!.events).toMatchObject({ uploaded: 0, pending: 0 });
    expect((await rec.status()).pendingEvents).toBe(0);
  });

  it('stops on 401 and says so — no retry, nothing sent — until setToken (page engine, the injected fetch counts requests)', async () => {
    const { userId, token } = await createSession(SERVER);
    // Same shape, wrong signature: the server answers 401 "bad token signature".
    const forged = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const engine = await pageEngine(
      { bundleUrl: BUNDLES, serverUrl: SERVER, userId, token: forged, databaseName: databaseName() },
      { fetch: counting },
    );
    await expect
      .poll(async () => (await engine.status()).sync.state, { timeout: 10_000 })
      .toBe('unauthorized');
    const after401 = requests;
    expect(after401).toBeGreaterThan(0);
    await engine.record({ itemId: ids[30], action: 'click' });
    await engine.record({ itemId: ids[31], action: 'click' });
    const result = await engine.sync();
    expect(result).toMatchObject({
      events: { uploaded: 0, pending: 2 },
      embedding: 'unauthorized',
      state: 'unauthorized',
    });
    // Past the debounce and a first backoff: still nothing.
    await new Promise((r) => setTimeout(r, 1500));
    expect(requests).toBe(after401);
    const status = await engine.status();
    expect(status.sync.state).toBe('unauthorized');
    expect(status.sync.lastError).toMatch(/401 bad token signature/);
    expect(status.sync.nextRetryAt).toBeUndefined();
    expect(status.pendingEvents).toBe(2);
    expect(await serverEvents(userId, token)).toEqual([]);

    await engine.setToken(token);
    await expect.poll(async () => (await engine.status()).pendingEvents, { timeout: 10_000 }).toBe(0);
    expect((await serverEvents(userId, token)).map((e) => e.itemId)).toEqual([ids[30], ids[31]]);
    await expect.poll(async () => (await engine.status()).sync.state, { timeout: 10_000 }).toBe('idle');
  });

  it('privacy mode uploads no event, deletes those the server had, and writes only the embedding', async () => {
    const { userId, token } = await createSession(SERVER);
    // An event this user uploaded before turning privacy on.
    const before = { id: `before-${run}`, userId, itemId: ids[40], action: 'click', ts: Date.now() - 1000 };
    expect((await api('POST', '/v1/events', token, { events: [before] })).body).toEqual({
      accepted: 1,
      duplicates: 0,
      conflicts: [],
    });
    const name = databaseName();
    const rec = await recommender({ serverUrl: SERVER, userId, token, privacy: true, databaseName: name });
    for (const itemId of ids.slice(41, 44)) await rec.record({ itemId, action: 'save' });
    const result = await rec.sync();
    expect(result.events).toMatchObject({ uploaded: 0, duplicates: 0, pending: 0 });
    expect(result.state).toBe('privacy');
    const status = await rec.status();
    expect(status.sync).toMatchObject({ state: 'privacy', privacy: true });
    expect(status.pendingEvents).toBe(0);

    expect((await api('GET', `/v1/users/${userId}/settings`, token)).body).toMatchObject({ privacy: true });
    expect(await serverEvents(userId, token)).toEqual([]);
    // The server refuses raw events of this user now.
    expect((await api('POST', '/v1/events', token, { events: [{ ...before, id: `x-${run}` }] })).status).toBe(
      409,
    );
    const { device } = await embeddings(userId, token);
    const local = await storedSync(name, userId);
    expect(device).not.toBeNull();
    expect(device!.modelVersion).toBe(status.modelVersion);
    expect(device!.vector).toHaveLength(64);
    expect(norm(device!.vector)).toBeGreaterThan(0);
    // The vector on the server is the one this device computed and last wrote.
    expect(device!.vector).toEqual(local.meta!.pushed!.vector);
    expect(device!.version).toBe(local.meta!.deviceVersion);
    // The three saves stay on the device, out of the outbox for good.
    expect(local.localOnly).toBe(3);
  });

  it('a stale embedding base gets 409 from the server; the client adopts the current version at its pull and its write then succeeds (page engine, frozen timers)', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const engine = await pageEngine(
      { bundleUrl: BUNDLES, serverUrl: SERVER, userId, token, databaseName: name },
      { clock: frozenTimers() },
    );
    await engine.sync();
    await engine.record({ itemId: ids[50], action: 'save' });
    const first = await engine.sync();
    expect(first.embeddingDetail).toMatchObject({ device: 'pushed', deviceVersion: 1 });

    // Another device of the same user writes version 2, which this one has not seen.
    const other = Array.from({ length: 64 }, (_, i) => (i % 2 ? 0.125 : -0.125));
    const put = await api<{ device: { version: number } }>('PUT', `/v1/users/${userId}/embedding`, token, {
      vector: other,
      modelVersion: first.version,
      baseVersion: 1,
    });
    expect(put).toMatchObject({ status: 200, body: { device: { version: 2 } } });
    // A write with the old base is refused with the current version.
    const stale = await api<{ current: { version: number } }>('PUT', `/v1/users/${userId}/embedding`, token, {
      vector: other,
      modelVersion: first.version,
      baseVersion: 1,
    });
    expect(stale).toMatchObject({ status: 409, body: { current: { version: 2 } } });

    await engine.record({ itemId: ids[51], action: 'save' });
    const second = await engine.sync();
    // The pass's pull saw version 2 (another device's embedding of this bundle) and took it as its base
    // (and as the prior of its learning), so its write is not blind and meets no 409. A write landing between
    // the pull and the push gets the 409 and the retry: test/browser/sync-learning.test.ts.
    expect(second.embeddingDetail).toMatchObject({ device: 'pushed', deviceVersion: 3 });
    expect(second.embedding).toBe('pushed');
    const { device } = await embeddings(userId, token);
    const local = await storedSync(name, userId);
    expect(device!.version).toBe(3);
    expect(device!.vector).toEqual(local.meta!.pushed!.vector);
    expect(device!.vector).not.toEqual(other);
    expect(local.meta!.deviceVersion).toBe(3);
    // Nothing new: nothing written.
    expect((await engine.sync()).embeddingDetail).toMatchObject({ device: 'unchanged', deviceVersion: 3 });
  });

  it("pulls the server's embedding after POST /v1/admin/refresh and uses it as longTerm (same bundle version)", async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const rec = await recommender({ serverUrl: SERVER, userId, token, databaseName: name });
    for (const itemId of ids.slice(60, 65)) await rec.record({ itemId, action: 'save' });
    const uploaded = await rec.sync();
    expect(uploaded.events.pending).toBe(0);
    expect(uploaded.embeddingDetail?.server).toBe('none');
    expect(await serverEvents(userId, token)).toHaveLength(5);

    const refresh = await api<{ users: number; events: number }>('POST', '/v1/admin/refresh', adminToken);
    expect(refresh.status).toBe(200);
    expect(refresh.body.users).toBeGreaterThanOrEqual(1);
    const { server } = await embeddings(userId, token);
    const version = (await rec.status()).modelVersion;
    expect(server).not.toBeNull();
    expect(server!.modelVersion).toBe(version);
    expect(norm(server!.vector)).toBeGreaterThan(0);

    const pulled = await rec.sync();
    expect(pulled.embeddingDetail?.server).toBe('adopted');
    expect(['pulled', 'pulled+pushed']).toContain(pulled.embedding);
    const { user } = await storedSync(name, userId);
    expect(user!.longTerm).toEqual({
      vector: server!.vector,
      modelVersion: version,
      updatedAt: server!.updatedAt,
    });
    // The counts record() keeps in the same record survived the write.
    expect(user!.counts.save).toBe(5);
    expect((await rec.sync()).embeddingDetail?.server).toBe('unchanged');
    const feed = await rec.recommend({ k: 10 });
    expect(feed.items).toHaveLength(10);
  });

  it('an event the server refuses (400: surface over 64 characters, written by an older client with looser checks) is isolated, set aside, and does not block the outbox (page engine, frozen timers, the injected fetch counts uploads)', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const posts: number[] = [];
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/v1/events'))
        posts.push((JSON.parse(String(init?.body)) as { events: unknown[] }).events.length);
      return fetch(input, init);
    };
    const engine = await pageEngine(
      { bundleUrl: BUNDLES, serverUrl: SERVER, userId, token, databaseName: name },
      { fetch: counting, clock: frozenTimers() },
    );
    await engine.sync();
    const good1 = await engine.record({ itemId: ids[70], action: 'click', ts: Date.now() - 3 });
    // Today's record() refuses such an event itself; an older client's stored outbox may still hold one.
    const bad = {
      id: crypto.randomUUID(),
      userId,
      itemId: ids[71],
      action: 'click' as const,
      ts: Date.now() - 2,
    };
    await expect(engine.record({ ...bad, surface: 'x'.repeat(100) })).rejects.toThrow(
      /surface: must be at most 64/,
    );
    const db = await openDB(name);
    await db.put('events', { ...bad, surface: 'x'.repeat(100), synced: 0 });
    db.close();
    const good2 = await engine.record({ itemId: ids[72], action: 'click', ts: Date.now() - 1 });
    const result = await engine.sync();
    expect(result.events).toEqual({ uploaded: 2, duplicates: 0, refused: 1, pending: 0 });
    expect(result.state).toBe('error');
    // The batch, then split around the event the server's message named (events/1): 3, 1, 1, 1.
    expect(posts).toEqual([3, 1, 1, 1]);
    const status = await engine.status();
    expect(status.sync).toMatchObject({ state: 'error', refusedEvents: 1 });
    expect(status.sync.lastError).toContain(`event ${bad.id} refused by the server (400)`);
    expect(status.sync.lastError).toMatch(/surface must NOT have more than 64 characters/);
    expect((await serverEvents(userId, token)).map((e) => e.id)).toEqual([good1.id, good2.id]);
    expect(await storedSync(name, userId)).toMatchObject({ pending: 0, localOnly: 0, setAside: 1 });

    const good3 = await engine.record({ itemId: ids[73], action: 'click' });
    const next = await engine.sync();
    expect(next).toMatchObject({ events: { uploaded: 1, refused: 0, pending: 0 }, state: 'idle' });
    expect((await serverEvents(userId, token)).map((e) => e.id)).toEqual([good1.id, good2.id, good3.id]);
  });
});
