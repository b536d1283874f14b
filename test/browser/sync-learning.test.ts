/**
 * The learned embedding and the real sync server (test/browser/setup/server.global.ts): it reaches the
 * server through the embedding route, survives a 409, and a second context of the same user starts from
 * it; in privacy mode it is all that leaves the device, and with `shareEmbedding: false` nothing does.
 * Engines run in the page with frozen timers (no background pass or learning run behind the test's back):
 * learning runs when the test calls learn(), on wasm (the step's backends are compared in learning.test.ts).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Bundle, httpBundleSource } from '../../src/core/bundle/index.ts';
import { Engine } from '../../src/engine/engine.ts';
import { EngineStorage } from '../../src/engine/storage/index.ts';
import type { SyncClock, SyncMeta } from '../../src/engine/sync/index.ts';
import { createSession } from '../../src/sdk/index.ts';
import { api as serverApi, serverEvents } from './server-api.ts';

const { url: SERVER } = inject('syncServer');
const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
let databases = 0;
const databaseName = () => `edgerec-sync-learning-${run}-${++databases}`;
const { version } = await (await fetch(`${BUNDLES}latest.json`)).json();
const ids = (await (await Bundle.open(httpBundleSource(`${BUNDLES}${version}/`))).catalog()).ids;

const opened: Engine[] = [];
afterEach(async () => {
  for (const e of opened.splice(0)) await e.dispose().catch(() => {});
});

const frozenTimers: SyncClock = {
  now: () => Date.now(),
  setTimeout: () => 0,
  clearTimeout: () => {},
  random: Math.random,
};

async function engineFor(
  userId: string,
  token: string,
  options: Partial<Parameters<Engine['init']>[0]> = {},
  fetcher?: typeof fetch,
) {
  const engine = new Engine({ clock: frozenTimers, ...(fetcher ? { fetch: fetcher } : {}) });
  opened.push(engine);
  const name = options.databaseName ?? databaseName();
  await engine.init({
    bundleUrl: BUNDLES,
    serverUrl: SERVER,
    userId,
    token,
    learning: { backends: ['wasm'] },
    ...options,
    databaseName: name,
  });
  return { engine, name };
}

interface DeviceRecord {
  vector: number[];
  modelVersion: string;
  version: number;
}
const deviceOnServer = async (userId: string, token: string) =>
  (await serverApi<{ device: DeviceRecord | null }>(SERVER, 'GET', `/v1/users/${userId}/embedding`, token))
    .body.device;

async function stored(name: string, userId: string) {
  const storage = await EngineStorage.open(name);
  try {
    return { user: await storage.userState(userId), meta: await storage.meta<SyncMeta>(`sync:${userId}`) };
  } finally {
    storage.close();
  }
}

async function activity(engine: Engine, from: number) {
  for (let i = 0; i < 8; i++) await engine.record({ itemId: ids[from + i], action: 'impression' });
  for (let i = 0; i < 3; i++) await engine.record({ itemId: ids[from + i], action: 'save' });
  await engine.record({ itemId: ids[from + 7], action: 'hide' });
}

describe('learned embedding sync (real server)', () => {
  it('reaches the server, survives a 409, and a second context of the user starts from it', async () => {
    const { userId, token } = await createSession(SERVER);
    // Another device of the user writes its embedding (version 2) just before this one's next write: the
    // sync client's fetch lets it in between the pass's pull and its PUT (the server and its 409 are real).
    const other = Array.from({ length: 64 }, (_, i) => (i % 2 ? 0.125 : -0.125));
    let interleave = false;
    const fetcher: typeof fetch = async (input, init) => {
      if (interleave && init?.method === 'PUT' && String(input).endsWith('/embedding')) {
        interleave = false;
        const put = await serverApi(SERVER, 'PUT', `/v1/users/${userId}/embedding`, token, {
          vector: other,
          modelVersion: version,
          baseVersion: 1,
        });
        expect(put.status).toBe(200);
      }
      return fetch(input, init);
    };
    const a = await engineFor(userId, token, {}, fetcher);
    await a.engine.sync();
    await activity(a.engine, 60);
    expect((await a.engine.learn()).runs).toBe(1);
    const first = await a.engine.sync();
    expect(first.embeddingDetail).toMatchObject({ device: 'pushed', deviceVersion: 1 });
    const learned = (await stored(a.name, userId)).user!.learned!;
    expect(learned.source).toBe('device');
    expect((await deviceOnServer(userId, token))!.vector).toEqual(learned.vector);

    // This device learns again and writes on base 1: 409 (version 2 is there), then on base 2 it goes through.
    interleave = true;
    await a.engine.record({ itemId: ids[70], action: 'click' });
    expect((await a.engine.learn()).runs).toBe(2);
    const second = await a.engine.sync();
    expect(second.embeddingDetail).toMatchObject({ device: 'pushed-after-conflict', deviceVersion: 3 });
    const relearned = (await stored(a.name, userId)).user!.learned!;
    expect(relearned.vector).not.toEqual(learned.vector);
    const onServer = (await deviceOnServer(userId, token))!;
    expect(onServer).toMatchObject({ version: 3, vector: relearned.vector });

    // A second context (another device: its own database) of the same user starts from it.
    const b = await engineFor(userId, token);
    await b.engine.sync();
    const { user, meta } = await stored(b.name, userId);
    expect(user!.learned).toMatchObject({
      source: 'remote',
      vector: relearned.vector,
      modelVersion: version,
    });
    expect(user!.devicePrior).toEqual({ vector: relearned.vector, modelVersion: version, version: 3 });
    expect(meta!.deviceVersion).toBe(3);
    // With no event of its own it writes nothing back, and its feed comes from the adopted embedding.
    expect((await b.engine.sync()).embeddingDetail?.device).toBe('none');
    const feed = await b.engine.recommend({ k: 20, interests: 'single' });
    expect(feed.backend.retrieval).not.toBe('js');
    // Its own learning starts from that embedding and is written on top of version 3, without a conflict.
    await activity(b.engine, 90);
    await b.engine.learn();
    expect((await b.engine.sync()).embeddingDetail).toMatchObject({ device: 'pushed', deviceVersion: 4 });
  });

  it('privacy mode: no raw event leaves the device, the learned embedding does; shareEmbedding: false keeps that too', async () => {
    const { userId, token } = await createSession(SERVER);
    const a = await engineFor(userId, token, { privacy: true });
    await activity(a.engine, 120);
    await a.engine.learn();
    const result = await a.engine.sync();
    expect(result.events).toMatchObject({ uploaded: 0, pending: 0 });
    expect(result.embeddingDetail?.device).toBe('pushed');
    expect(await serverEvents(SERVER, userId, token)).toEqual([]);
    const learned = (await stored(a.name, userId)).user!.learned!;
    expect((await deviceOnServer(userId, token))!.vector).toEqual(learned.vector);

    const other = await createSession(SERVER);
    const c = await engineFor(other.userId, other.token, { privacy: true, shareEmbedding: false });
    await activity(c.engine, 140);
    expect((await c.engine.learn()).runs).toBe(1);
    const quiet = await c.engine.sync();
    expect(quiet.events).toMatchObject({ uploaded: 0, pending: 0 });
    expect(quiet.embeddingDetail?.device).toBe('none');
    expect(await serverEvents(SERVER, other.userId, other.token)).toEqual([]);
    expect(await deviceOnServer(other.userId, other.token)).toBeNull();
  });
});
