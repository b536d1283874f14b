/**
 * Privacy mode and the user's local data, in headless Chromium against the real sync server
 * (test/browser/setup/server.global.ts). What reached the server is read from the server itself
 * (`GET /v1/users/:id/events` with the user's token); what the device keeps, from its IndexedDB.
 *
 * "Tabs" are engines in their own Web Workers on one database, as two tabs of one origin are: they share
 * IndexedDB and nothing else. A tab closing is its worker terminated, whatever it was doing.
 */
import { openDB } from 'idb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Bundle, httpBundleSource } from '../../src/core/bundle/index.ts';
import type { Event } from '../../src/core/events.ts';
import { Engine } from '../../src/engine/engine.ts';
import { EngineStorage } from '../../src/engine/storage/index.ts';
import type { SyncClock } from '../../src/engine/sync/index.ts';
import { createRecommender, createSession, type Recommender } from '../../src/sdk/index.ts';
import { serverEvents } from './server-api.ts';

const { url: SERVER, closedUrl } = inject('syncServer');
const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
let databases = 0;
const databaseName = () => `edgerec-privacy-test-${run}-${++databases}`;

const opened: { dispose(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of opened.splice(0)) await r.dispose().catch(() => {});
}, 120_000);

const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
const ids = (await (await Bundle.open(httpBundleSource(`${BUNDLES}${version}/`))).catalog()).ids;

/** A tab: the engine in a worker this test owns, so it can close it (`close`: terminate) at any moment. */
async function tab(
  options: Parameters<typeof createRecommender>[0],
): Promise<{ rec: Recommender; close: () => void }> {
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module' });
  // On-device learning has its own files (learning, sync-learning); its background runs here (tfjs and a
  // SwiftShader warm-up, ~10 s each) would only slow this file down.
  const rec = await createRecommender({ learning: false, ...options, worker });
  let closed = false;
  // A closed tab's worker answers nothing any more: it is not disposed, only gone.
  opened.push({
    dispose: async () => (closed ? undefined : rec.dispose().finally(() => worker.terminate())),
  });
  const close = () => {
    closed = true;
    worker.terminate();
  };
  return { rec, close };
}

/** The stored outbox state of each of `ids` (0 pending, 1 synced, 2 local only, 3 set aside). */
async function flags(name: string, ids: string[]): Promise<(number | undefined)[]> {
  const db = await openDB(name);
  try {
    return await Promise.all(ids.map(async (id) => (await db.get('events', id))?.synced));
  } finally {
    db.close();
  }
}

describe('privacy mode holds in every tab, ever', () => {
  it('a tab closed in the middle of a sync pass leaves nothing to upload: a later tab without the flag sends none of its events', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const a = await tab({
      serverUrl: SERVER,
      userId,
      token,
      privacy: true,
      databaseName: name,
      device: 'wasm',
    });
    const recorded: Event[] = [];
    for (const itemId of ids.slice(0, 5)) recorded.push(await a.rec.record({ itemId, action: 'save' }));
    // A pass starts (settings PUT, embedding …) and the tab is closed while it runs.
    void a.rec.sync().catch(() => {});
    a.close();
    // Stored local only at append time: there never was a moment they were in the outbox.
    expect(
      await flags(
        name,
        recorded.map((e) => e.id),
      ),
    ).toEqual([2, 2, 2, 2, 2]);

    // The user comes back in a tab that does not pass the flag; it runs a full pass and records more.
    const b = await tab({ serverUrl: SERVER, userId, token, databaseName: name, device: 'wasm' });
    expect((await b.rec.status()).sync.privacy).toBe(true);
    const later = await b.rec.record({ itemId: ids[6], action: 'click' });
    const result = await b.rec.sync();
    expect(result.events).toMatchObject({ uploaded: 0, pending: 0 });
    expect(await flags(name, [later.id])).toEqual([2]);
    expect(await serverEvents(SERVER, userId, token)).toEqual([]);
  }, 480_000);

  it('a second tab of the same user, open at the same time without the flag, records privately too and uploads nothing', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const a = await tab({
      serverUrl: SERVER,
      userId,
      token,
      privacy: true,
      databaseName: name,
      device: 'wasm',
    });
    const b = await tab({ serverUrl: SERVER, userId, token, databaseName: name, device: 'wasm' });
    const recorded: Event[] = [];
    // Interleaved, concurrently, from both tabs, with both syncing.
    await Promise.all(
      ids.slice(10, 20).map(async (itemId, i) => {
        recorded.push(await (i % 2 ? b : a).rec.record({ itemId, action: 'click' }));
        if (i % 3 === 0) await (i % 2 ? a : b).rec.sync();
      }),
    );
    await Promise.all([a.rec.sync(), b.rec.sync()]);
    expect(
      await flags(
        name,
        recorded.map((e) => e.id),
      ),
    ).toEqual(recorded.map(() => 2));
    expect(await serverEvents(SERVER, userId, token)).toEqual([]);
    expect((await b.rec.status()).sync).toMatchObject({ privacy: true, state: 'privacy' });
  }, 480_000);

  it('turning privacy off uploads what is recorded afterwards, never what was recorded under it', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const a = await tab({
      serverUrl: SERVER,
      userId,
      token,
      privacy: true,
      databaseName: name,
      device: 'wasm',
    });
    const before: Event[] = [];
    for (const itemId of ids.slice(30, 34)) before.push(await a.rec.record({ itemId, action: 'save' }));
    await a.rec.sync();
    await a.rec.setPrivacy(false);
    // A tab started later reads the stored setting: off now.
    const b = await tab({ serverUrl: SERVER, userId, token, databaseName: name, device: 'wasm' });
    expect((await b.rec.status()).sync.privacy).toBe(false);
    const after: Event[] = [];
    for (const itemId of ids.slice(40, 43)) after.push(await b.rec.record({ itemId, action: 'click' }));
    await a.rec.sync();
    await b.rec.sync();
    const stored = await serverEvents(SERVER, userId, token);
    expect(stored.map((e) => e.id).sort()).toEqual(after.map((e) => e.id).sort());
    expect(
      await flags(
        name,
        before.map((e) => e.id),
      ),
    ).toEqual([2, 2, 2, 2]);
  }, 480_000);

  it('turning privacy on keeps what was still waiting in the outbox on the device too', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    // Recorded against an unreachable server: pending.
    const a = await tab({
      bundleUrl: BUNDLES,
      serverUrl: closedUrl,
      userId,
      token,
      databaseName: name,
      device: 'wasm',
    });
    const pending: Event[] = [];
    for (const itemId of ids.slice(50, 53)) pending.push(await a.rec.record({ itemId, action: 'save' }));
    expect((await a.rec.status()).pendingEvents).toBe(3);
    await a.rec.setPrivacy(true);
    expect((await a.rec.status()).pendingEvents).toBe(0);
    const b = await tab({ serverUrl: SERVER, userId, token, databaseName: name, device: 'wasm' });
    await b.rec.sync();
    expect(await serverEvents(SERVER, userId, token)).toEqual([]);
    expect(
      await flags(
        name,
        pending.map((e) => e.id),
      ),
    ).toEqual([2, 2, 2]);
  }, 480_000);
});

describe('clearCache and deleteLocalData', () => {
  it('clearCache() deletes the bundles only: the outbox, hidden items and user state stay', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    // An unreachable server: recorded events stay in the outbox.
    const { rec } = await tab({
      bundleUrl: BUNDLES,
      serverUrl: closedUrl,
      userId,
      token,
      databaseName: name,
    });
    for (const itemId of ids.slice(60, 63)) await rec.record({ itemId, action: 'save' });
    await rec.record({ itemId: ids[64], action: 'hide' });
    const cleared = await rec.clearCache();
    expect(cleared.versions).toEqual([version]);
    expect(cleared.files).toBeGreaterThan(0);

    const storage = await EngineStorage.open(name);
    try {
      expect(await storage.versions()).toEqual([]);
      expect(await storage.currentVersion()).toBeUndefined();
      expect(await storage.countUnsynced()).toBe(4);
      const user = await storage.userState(userId);
      expect(user?.hidden).toEqual([ids[64]]);
      expect(user?.counts).toMatchObject({ save: 3, hide: 1 });
      expect((await storage.recentEvents(userId, 10)).length).toBe(4);
    } finally {
      storage.close();
    }
    // The running model carries on, and the hidden pin stays hidden.
    const feed = await rec.recommend({ k: 50, includeSeen: true });
    expect(feed.items.map((i) => i.itemId)).not.toContain(ids[64]);
    expect((await rec.status()).pendingEvents).toBe(4);
  }, 480_000);

  it('deleteLocalData() deletes the user’s events, hidden items and state, says so, and keeps privacy on', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const { rec } = await tab({
      bundleUrl: BUNDLES,
      serverUrl: closedUrl,
      userId,
      token,
      databaseName: name,
    });
    for (const itemId of ids.slice(70, 72)) await rec.record({ itemId, action: 'click' });
    await rec.record({ itemId: ids[72], action: 'hide' });
    await rec.setPrivacy(true);
    await rec.record({ itemId: ids[73], action: 'save' });
    const deleted = await rec.deleteLocalData();
    expect(deleted).toMatchObject({
      userId,
      events: 4,
      // The three recorded before privacy were pending, then kept local when it was turned on.
      unsynced: 0,
      setAside: 0,
      hiddenItems: 1,
      userState: true,
      privacyKept: true,
    });
    const storage = await EngineStorage.open(name);
    try {
      expect(await storage.recentEvents(userId, 10)).toEqual([]);
      expect((await storage.userState(userId))?.hidden).toEqual([]);
      expect(await storage.privacy(userId)).toBe(true);
      // The bundle cache is not user data: still there.
      expect(await storage.versions()).toEqual([version]);
    } finally {
      storage.close();
    }
  }, 480_000);
});

/** Timers that never fire: the in-page engine runs passes only on sync() and start(). */
const frozenTimers: SyncClock = {
  now: () => Date.now(),
  setTimeout: () => 0,
  clearTimeout: () => {},
  random: Math.random,
};

describe('a refused event', () => {
  it('is set aside and reported, never resent, and the events behind it go through (page engine, frozen timers, the injected fetch counts uploads)', async () => {
    const { userId, token } = await createSession(SERVER);
    const name = databaseName();
    const posts: string[][] = [];
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/v1/events'))
        posts.push((JSON.parse(String(init?.body)) as { events: Event[] }).events.map((e) => e.id));
      return fetch(input, init);
    };
    const engine = new Engine({ fetch: counting, clock: frozenTimers });
    opened.push(engine);
    await engine.init({
      bundleUrl: BUNDLES,
      serverUrl: SERVER,
      userId,
      token,
      databaseName: name,
      device: 'wasm',
      learning: false,
    });
    await engine.sync();
    const first = await engine.record({ itemId: ids[80], action: 'click', ts: Date.now() - 10 });
    // What an older client (looser checks) left in the outbox: the server refuses it (surface > 64).
    const bad = { id: `bad-${run}`, userId, itemId: ids[81], action: 'click', ts: Date.now() - 9 };
    const db = await openDB(name);
    await db.put('events', { ...bad, surface: 'x'.repeat(100), synced: 0 });
    db.close();
    const behind: Event[] = [];
    for (const itemId of ids.slice(82, 86)) behind.push(await engine.record({ itemId, action: 'click' }));

    const result = await engine.sync();
    expect(result.events).toMatchObject({ uploaded: 5, refused: 1, pending: 0 });
    expect((await serverEvents(SERVER, userId, token)).map((e) => e.id).sort()).toEqual(
      [first, ...behind].map((e) => e.id).sort(),
    );
    const status = await engine.status();
    expect(status.setAsideEvents).toBe(1);
    expect(status.pendingEvents).toBe(0);
    const aside = await engine.setAsideEvents();
    expect(aside.map((a) => a.event.id)).toEqual([bad.id]);
    expect(aside[0].reason).toMatch(/refused by the server \(400\).*surface/);

    // Never sent again: the next passes post only what is new.
    posts.length = 0;
    const next = await engine.record({ itemId: ids[90], action: 'save' });
    await engine.sync();
    await engine.sync();
    expect(posts).toEqual([[next.id]]);
    expect(await flags(name, [bad.id])).toEqual([3]);
  }, 480_000);
});
