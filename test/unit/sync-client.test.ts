/**
 * The sync client's logic (src/engine/sync/) in Node, with an in-memory SyncStorage, a manual clock and a
 * small in-process stand-in for the server's contract (the real server, in a real browser, is what
 * test/browser/sync.test.ts uses): backoff and Retry-After, 401, the isolation of a refused event, 413
 * splitting, debounce, the single-flight queue, the embedding pull/push and the 409 policy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Event } from '../../src/core/events.ts';
import type { UserState } from '../../src/engine/storage/index.ts';
import {
  type DeviceEmbedding,
  eventIndexIn,
  fullJitter,
  parseRetryAfter,
  retryDelay,
  SyncClient,
  type SyncClock,
  type SyncStorage,
} from '../../src/engine/sync/index.ts';

const USER = 'u1';
const SERVER = 'http://sync.test';

/** The storage contract over Maps, with the same outbox semantics as EngineStorage. */
class MemoryStorage implements SyncStorage {
  readonly events = new Map<string, Event & { synced: 0 | 1 | 2 | 3; localReason?: string }>();
  readonly metas = new Map<string, unknown>();
  readonly users = new Map<string, UserState>();

  /** As EngineStorage.appendEvent: an event of a user in privacy mode is stored local only. */
  add(event: Event): void {
    if (this.events.has(event.id)) return;
    const privacy = this.users.get(event.userId)?.privacy === true;
    this.events.set(
      event.id,
      privacy ? { ...event, synced: 2, localReason: 'privacy' } : { ...event, synced: 0 },
    );
  }
  private pending(userId?: string) {
    return [...this.events.values()]
      .filter((e) => e.synced === 0 && (userId === undefined || e.userId === userId))
      .sort((a, b) => a.ts - b.ts);
  }
  async unsynced(limit: number, userId?: string): Promise<Event[]> {
    return this.pending(userId)
      .slice(0, limit)
      .map(({ synced: _s, localReason: _r, ...e }) => e);
  }
  async countUnsynced(): Promise<number> {
    return this.pending().length;
  }
  private mark(ids: readonly string[], flag: 1 | 2 | 3, reason?: string): number {
    let n = 0;
    for (const id of ids) {
      const e = this.events.get(id);
      if (e && e.synced === 0) {
        e.synced = flag;
        if (reason !== undefined) e.localReason = reason;
        n++;
      }
    }
    return n;
  }
  async markSynced(ids: readonly string[]): Promise<number> {
    return this.mark(ids, 1);
  }
  async markLocalOnly(ids: readonly string[], reason: string): Promise<number> {
    return this.mark(ids, 2, reason);
  }
  async markSetAside(ids: readonly string[], reason: string): Promise<number> {
    return this.mark(ids, 3, reason);
  }
  async privacy(userId: string): Promise<boolean> {
    return this.users.get(userId)?.privacy === true;
  }
  async setPrivacy(userId: string, on: boolean, empty: () => UserState): Promise<number> {
    this.users.set(userId, { ...(this.users.get(userId) ?? empty()), privacy: on });
    if (!on) return 0;
    return this.mark(
      [...this.events.values()].filter((e) => e.userId === userId).map((e) => e.id),
      2,
      'privacy',
    );
  }
  async meta<T>(key: string): Promise<T | undefined> {
    return structuredClone(this.metas.get(key)) as T | undefined;
  }
  async setMeta(key: string, value: unknown): Promise<void> {
    this.metas.set(key, structuredClone(value));
  }
  async userState(userId: string): Promise<UserState | undefined> {
    return this.users.get(userId);
  }
  async updateUserState(userId: string, change: (c: UserState | undefined) => UserState): Promise<UserState> {
    const next = change(this.users.get(userId));
    this.users.set(userId, next);
    return next;
  }
}

/** Timers that run only when the test advances time. */
class ManualClock implements SyncClock {
  t = 1_000_000;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private next = 1;
  randomValue = 0.5;
  now = () => this.t;
  random = () => this.randomValue;
  setTimeout = (callback: () => void, ms: number) => {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, callback });
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.timers.delete(handle as number);
  };
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward, firing due timers in order, and lets the passes they start finish. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at);
      if (due.length === 0) break;
      const [id, timer] = due[0];
      this.timers.delete(id);
      this.t = timer.at;
      timer.callback();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

const settle = async () => {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
};

interface Device {
  vector: number[];
  modelVersion: string;
  version: number;
  updatedAt: number;
}

/** The server's contract, in process: what POST /v1/events, the embedding and settings routes answer. */
class FakeServer {
  readonly stored = new Map<string, Event>();
  readonly posts: string[][] = [];
  requests = 0;
  /** Answers to give instead of the real one, in order (`'network'` throws as fetch does offline). */
  script: (number | 'network' | { status: number; headers?: Record<string, string>; message?: string })[] =
    [];
  token = 'good';
  maxEventsPerBody = 500;
  /** When set, any POST /v1/events answers this 400 message (a contract change). */
  refuseAll?: string;
  /** Events refused with a 400 that names none (as a server that checks strings before the schema might). */
  refuseIds = new Set<string>();
  /** Ids the 200 reports as conflicts (stored before with other content). */
  conflicts = new Set<string>();
  /** POST /v1/events answers 404 (a wrong server URL). */
  status404 = false;
  server: { vector: number[]; modelVersion: string; eventSeq: number; updatedAt: number } | null = null;
  device: Device | null = null;
  /** What the real route serves as `combined` (src/server/combined-embedding.ts); absent when undefined. */
  combined: { vector: number[]; modelVersion: string; rule: string; from: string } | undefined;
  privacy = false;

  fetch: typeof fetch = async (input, init) => {
    this.requests++;
    const scripted = this.script.shift();
    if (scripted === 'network') throw new TypeError('Failed to fetch');
    if (scripted !== undefined) {
      const s = typeof scripted === 'number' ? { status: scripted } : scripted;
      return json(
        s.status,
        { statusCode: s.status, error: 'x', message: s.message ?? 'scripted' },
        s.headers,
      );
    }
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const auth = new Headers(init?.headers).get('authorization');
    if (auth !== `Bearer ${this.token}`)
      return json(401, { statusCode: 401, error: 'Unauthorized', message: 'bad token signature' });
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    if (method === 'POST' && url.pathname === '/v1/events') {
      const events = body.events as Event[];
      this.posts.push(events.map((e) => e.id));
      if (events.length > this.maxEventsPerBody)
        return json(413, {
          statusCode: 413,
          error: 'Payload Too Large',
          message: 'Request body is too large',
        });
      if (this.status404) return json(404, { statusCode: 404, error: 'Not Found', message: 'no route' });
      if (this.refuseAll)
        return json(400, { statusCode: 400, error: 'Bad Request', message: this.refuseAll });
      if (events.some((e) => this.refuseIds.has(e.id)))
        return json(400, { statusCode: 400, error: 'Bad Request', message: 'a string holds U+0000' });
      const bad = events.findIndex((e) => (e.surface ?? '').length > 64);
      if (bad >= 0)
        return json(400, {
          statusCode: 400,
          error: 'Bad Request',
          message: `body/events/${bad}/surface must NOT have more than 64 characters`,
        });
      if (this.privacy) return json(409, { statusCode: 409, error: 'Conflict', message: 'privacy mode' });
      let accepted = 0;
      const conflicts = events.filter((e) => this.conflicts.has(e.id)).map((e) => e.id);
      for (const e of events) {
        if (this.stored.has(e.id) || this.conflicts.has(e.id)) continue;
        this.stored.set(e.id, e);
        accepted++;
      }
      return json(200, {
        accepted,
        duplicates: events.length - accepted - conflicts.length,
        ...(conflicts.length > 0 ? { conflicts } : {}),
      });
    }
    if (url.pathname === `/v1/users/${USER}/embedding`) {
      if (method === 'GET')
        return json(200, {
          userId: USER,
          server: this.server,
          device: this.device,
          ...(this.combined ? { combined: this.combined } : {}),
        });
      const current = this.device?.version ?? 0;
      if (body.baseVersion !== current)
        return json(409, { statusCode: 409, error: 'Conflict', message: 'stale', current: this.device });
      this.device = {
        vector: body.vector,
        modelVersion: body.modelVersion,
        version: current + 1,
        updatedAt: 1,
      };
      return json(200, { device: this.device });
    }
    if (url.pathname === `/v1/users/${USER}/settings` && method === 'PUT') {
      this.privacy = body.privacy;
      return json(200, { privacy: this.privacy, updatedAt: 1, deletedEvents: 0 });
    }
    return json(404, { statusCode: 404, error: 'Not Found', message: `no route ${method} ${url.pathname}` });
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

let seq = 0;
const event = (extra: Partial<Event> = {}): Event => ({
  id: `e${++seq}`,
  userId: USER,
  itemId: 'p1',
  action: 'click',
  ts: 1000 + seq,
  ...extra,
});

const clients: SyncClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.dispose();
});

/** A started client (listening for `online`, its first pass done) over empty storage and a healthy server. */
async function setup(
  options: { privacy?: boolean; token?: string; embedding?: DeviceEmbedding; modelVersion?: string } = {},
) {
  const storage = new MemoryStorage();
  const server = new FakeServer();
  const clock = new ManualClock();
  const events = new EventTarget();
  const box = { embedding: options.embedding };
  if (options.privacy)
    await storage.setPrivacy(USER, true, () => ({
      userId: USER,
      counts: { click: 0, closeup: 0, save: 0, hide: 0 },
      hidden: [],
      updatedAt: 0,
    }));
  const client = new SyncClient({
    storage,
    serverUrl: SERVER,
    token: options.token ?? 'good',
    userId: USER,
    modelVersion: () => options.modelVersion ?? 'v1',
    deviceEmbedding: async () => box.embedding,
    fetch: server.fetch,
    clock,
    events,
  });
  clients.push(client);
  await client.start();
  await settle();
  return { storage, server, clock, events, client, box };
}

describe('backoff', () => {
  it('full jitter stays under min(cap, base·2^attempt), and Retry-After is a floor', () => {
    for (const [attempt, ceiling] of [
      [0, 1000],
      [1, 2000],
      [3, 8000],
      [6, 60_000],
      [40, 60_000],
    ] as const) {
      expect(fullJitter(attempt, () => 0)).toBe(0);
      expect(fullJitter(attempt, () => 0.999_999)).toBe(ceiling - 1);
    }
    expect(retryDelay(0, () => 0.5, 30_000)).toBe(30_000);
    expect(retryDelay(6, () => 0.9, 1000)).toBe(54_000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('999999', now)).toBe(3600_000);
  });

  it('finds the event a server message names', () => {
    expect(eventIndexIn('body/events/12/surface must NOT have more than 64 characters')).toBe(12);
    expect(eventIndexIn("events[3].userId is not this token's user")).toBe(3);
    expect(eventIndexIn('body/events must NOT have fewer than 1 items')).toBeUndefined();
  });
});

describe('SyncClient outbox', () => {
  it('uploads in batches of 200, marks synced, and a second sync sends nothing', async () => {
    const { storage, server, client } = await setup();
    for (let i = 0; i < 450; i++) storage.add(event());
    const result = await client.sync();
    expect(server.posts.map((p) => p.length)).toEqual([200, 200, 50]);
    expect(result.events).toEqual({ uploaded: 450, duplicates: 0, refused: 0, pending: 0 });
    expect(result.state).toBe('idle');
    expect(server.stored.size).toBe(450);
    const again = await client.sync();
    expect(server.posts).toHaveLength(3);
    expect(again.events.uploaded).toBe(0);
  });

  it('counts duplicates as synced', async () => {
    const { storage, server, client } = await setup();
    const e = event();
    server.stored.set(e.id, e);
    storage.add(e);
    const result = await client.sync();
    expect(result.events).toMatchObject({ uploaded: 0, duplicates: 1, pending: 0 });
  });

  it('shares one pass between concurrent sync() calls: one upload, one answer', async () => {
    const { storage, server, client } = await setup();
    storage.add(event());
    const results = await Promise.all([client.sync(), client.sync(), client.sync()]);
    expect(server.posts).toHaveLength(1);
    expect(results.map((r) => r.events.uploaded)).toEqual([1, 1, 1]);
    expect(results[0]).toBe(results[2]);
  });

  it('backs off with full jitter on network errors, 5xx and 429, honouring Retry-After', async () => {
    const { storage, server, client, clock } = await setup();
    storage.add(event());
    clock.randomValue = 0.5;
    server.script = ['network', 503, { status: 429, headers: { 'retry-after': '30' } }];
    const first = await client.sync();
    expect(first).toMatchObject({ state: 'offline', embedding: 'offline', events: { pending: 1 } });
    expect(client.status().nextRetryAt).toBe(clock.t + 500); // 0.5 × 1 s
    expect(client.status().lastError).toMatch(/Failed to fetch/);
    await clock.advance(500);
    expect(client.status()).toMatchObject({ state: 'backoff', nextRetryAt: clock.t + 1000 }); // 0.5 × 2 s
    await clock.advance(1000);
    // 429 with Retry-After: 30 s, more than the jittered 2 s.
    expect(client.status()).toMatchObject({ state: 'backoff', nextRetryAt: clock.t + 30_000 });
    await clock.advance(29_999);
    expect(server.stored.size).toBe(0);
    await clock.advance(1);
    expect(server.stored.size).toBe(1);
    expect(client.status().state).toBe('idle');
    expect(client.status().nextRetryAt).toBeUndefined();
    expect(clock.pending).toBe(0);
  });

  it('retries at once when the global scope fires online', async () => {
    const { storage, server, client, clock, events } = await setup();
    storage.add(event());
    server.script = Array(100).fill('network');
    await client.sync();
    await clock.advance(120_000);
    expect(client.status().state).toBe('offline');
    expect(client.status().nextRetryAt).toBeGreaterThanOrEqual(clock.t);
    server.script = [];
    events.dispatchEvent(new Event('online'));
    await settle();
    expect(server.stored.size).toBe(1);
    expect(clock.pending).toBe(0);
    expect(client.status().state).toBe('idle');
  });

  it('stops on 401 — no retry, no upload on record — until a new token', async () => {
    const { storage, server, client, clock } = await setup({ token: 'stale' });
    storage.add(event());
    const result = await client.sync();
    expect(result).toMatchObject({ state: 'unauthorized', embedding: 'unauthorized' });
    expect(client.status().lastError).toMatch(/401 bad token signature/);
    expect(clock.pending).toBe(0);
    const requests = server.requests;
    client.notifyRecorded();
    await client.sync();
    await clock.advance(120_000);
    expect(server.requests).toBe(requests);
    client.setToken('good');
    await settle();
    expect(server.stored.size).toBe(1);
    expect(client.status().state).toBe('idle');
  });

  it('isolates an event the server refuses (400 naming it), sets it aside and uploads the rest', async () => {
    const { storage, server, client } = await setup();
    const [a, bad, c, d] = [event(), event({ surface: 'x'.repeat(100) }), event(), event()];
    for (const e of [a, bad, c, d]) storage.add(e);
    const result = await client.sync();
    expect(result.events).toEqual({ uploaded: 3, duplicates: 0, refused: 1, pending: 0 });
    expect(result.state).toBe('error');
    // The message named events/1: the batch split around it, no bisection needed.
    expect(server.posts).toEqual([[a.id, bad.id, c.id, d.id], [a.id], [bad.id], [c.id, d.id]]);
    expect(storage.events.get(bad.id)).toMatchObject({
      synced: 3,
      localReason: expect.stringMatching(/surface/),
    });
    expect(client.status()).toMatchObject({ state: 'error', refusedEvents: 1 });
    expect(client.status().lastError).toMatch(new RegExp(`event ${bad.id} refused by the server \\(400\\)`));
    // The outbox is not blocked: the next event goes through.
    storage.add(event());
    expect((await client.sync()).state).toBe('idle');
    expect(server.stored.size).toBe(4);
  });

  it('splits a batch the server finds too large (413) until the parts fit', async () => {
    const { storage, server, client } = await setup();
    server.maxEventsPerBody = 3;
    for (let i = 0; i < 10; i++) storage.add(event());
    const result = await client.sync();
    expect(result.events).toMatchObject({ uploaded: 10, refused: 0, pending: 0 });
    expect(server.posts.map((p) => p.length)).toEqual([10, 5, 2, 3, 5, 2, 3]);
  });

  it('bisects a 400 that names no event down to the one event at fault, and sets only that one aside', async () => {
    const { storage, server, client } = await setup();
    const events = Array.from({ length: 8 }, () => event());
    const bad = events[5];
    server.refuseIds = new Set([bad.id]);
    for (const e of events) storage.add(e);
    const result = await client.sync();
    expect(result.events).toEqual({ uploaded: 7, duplicates: 0, refused: 1, pending: 0 });
    // Halves, depth first: 8 refused → 4 accepted, 4 refused → 2 refused → 1 accepted, 1 refused; 2 accepted.
    expect(server.posts.map((p) => p.length)).toEqual([8, 4, 4, 2, 1, 1, 2]);
    expect(storage.events.get(bad.id)).toMatchObject({
      synced: 3,
      localReason: expect.stringMatching(/400/),
    });
    expect([...server.stored.keys()].sort()).toEqual(
      events
        .filter((e) => e !== bad)
        .map((e) => e.id)
        .sort(),
    );
    // Never retried: the next pass sends only what is new.
    const next = event();
    storage.add(next);
    await client.sync();
    expect(server.posts.at(-1)).toEqual([next.id]);
  });

  it('sets aside ids the 200 lists as conflicts, and tolerates the field being absent', async () => {
    const { storage, server, client } = await setup();
    const [a, b, c] = [event(), event(), event()];
    server.conflicts = new Set([b.id]);
    for (const e of [a, b, c]) storage.add(e);
    const result = await client.sync();
    expect(result.events).toMatchObject({ refused: 1, pending: 0 });
    expect(storage.events.get(a.id)?.synced).toBe(1);
    expect(storage.events.get(b.id)).toMatchObject({
      synced: 3,
      localReason: expect.stringMatching(/conflict/),
    });
    expect(storage.events.get(c.id)?.synced).toBe(1);
  });

  it('takes more refusals in one pass than MAX_REFUSED_PER_PASS as a contract mismatch: the rest stay, automatic passes stop', async () => {
    const { storage, server, client, clock } = await setup();
    server.refuseAll = "body/events must have required property 'sessionId'";
    for (let i = 0; i < 4; i++) storage.add(event());
    const result = await client.sync();
    // Bisected down to single events, each refused: 4 set aside (under the limit of 10).
    expect(result.events).toMatchObject({ uploaded: 0, refused: 4, pending: 0 });
    for (let i = 0; i < 15; i++) storage.add(event());
    const second = await client.sync();
    expect(second.events).toMatchObject({ uploaded: 0, refused: 10, pending: 5 });
    expect(client.status().state).toBe('error');
    expect(client.status().lastError).toMatch(/refused 11 events in one pass.*rest stay in the outbox/);
    expect(clock.pending).toBe(0);
    const requests = server.requests;
    client.notifyRecorded();
    await clock.advance(10_000);
    expect(server.requests).toBe(requests);
    // An explicit sync() tries again (after an update of the server, say).
    server.refuseAll = undefined;
    expect((await client.sync()).events).toMatchObject({ uploaded: 5, pending: 0 });
  });

  it("a 404 on POST /v1/events is never an event's fault: nothing is set aside, automatic passes stop", async () => {
    const { storage, server, client } = await setup();
    server.status404 = true;
    for (let i = 0; i < 3; i++) storage.add(event());
    const result = await client.sync();
    expect(result.events).toMatchObject({ refused: 0, pending: 3 });
    expect(result.state).toBe('error');
    expect([...storage.events.values()].every((e) => e.synced === 0)).toBe(true);
  });

  it('debounces notifyRecorded: one upload 500 ms after the last record, 5 s at most', async () => {
    const { storage, server, client, clock } = await setup();
    await client.sync();
    for (let i = 0; i < 3; i++) {
      storage.add(event());
      client.notifyRecorded();
      await clock.advance(300);
    }
    expect(server.posts).toHaveLength(0);
    await clock.advance(200);
    expect(server.posts).toHaveLength(1);
    // A steady stream every 400 ms still uploads within 5 s.
    for (let i = 0; i < 14; i++) {
      storage.add(event());
      client.notifyRecorded();
      await clock.advance(400);
    }
    expect(server.posts.length).toBeGreaterThanOrEqual(2);
    expect(server.stored.size).toBeGreaterThanOrEqual(3 + 12);
  });

  it('privacy mode: settings put once, events kept local, only the embedding written', async () => {
    const { storage, server, client, box } = await setup({ privacy: true });
    expect(server.privacy).toBe(true);
    box.embedding = { vector: [0.1, 0.2], modelVersion: 'v1' };
    storage.add(event());
    storage.add(event());
    const result = await client.sync();
    expect(server.privacy).toBe(true);
    expect(server.posts).toHaveLength(0);
    expect(result).toMatchObject({
      state: 'privacy',
      embedding: 'pushed',
      events: { pending: 0, uploaded: 0 },
    });
    expect([...storage.events.values()].every((e) => e.synced === 2)).toBe(true);
    expect(server.device).toMatchObject({ vector: [0.1, 0.2], version: 1 });
    expect(client.status()).toMatchObject({ state: 'privacy', privacy: true });
  });

  it('dispose() stops the timers', async () => {
    const { storage, client, clock, server } = await setup();
    server.script = ['network'];
    storage.add(event());
    await client.sync();
    client.notifyRecorded();
    expect(clock.pending).toBe(1);
    await client.dispose();
    expect(clock.pending).toBe(0);
  });
});

describe('SyncClient embeddings', () => {
  it('adopts the server embedding only when it is of the running bundle version', async () => {
    const { storage, server, client } = await setup({ modelVersion: 'v2' });
    server.server = { vector: [1, 0], modelVersion: 'v1', eventSeq: 3, updatedAt: 50 };
    let result = await client.sync();
    expect(result.embeddingDetail?.server).toBe('other-version');
    expect(storage.users.get(USER)?.longTerm).toBeUndefined();
    server.server = { vector: [0, 1], modelVersion: 'v2', eventSeq: 4, updatedAt: 60 };
    result = await client.sync();
    expect(result).toMatchObject({ embedding: 'pulled', embeddingDetail: { server: 'adopted' } });
    expect(storage.users.get(USER)?.longTerm).toEqual({ vector: [0, 1], modelVersion: 'v2', updatedAt: 60 });
    expect((await client.sync()).embeddingDetail?.server).toBe('unchanged');
  });

  it('on 409 adopts the current version as its base and writes once more; unchanged vectors are not rewritten', async () => {
    const { server, client, box, storage } = await setup();
    // Another device wrote version 5 this device has never seen, on another bundle version (so the pull
    // does not adopt it: it lives in another item space).
    server.device = { vector: [9, 9, 9], modelVersion: 'v0', version: 5, updatedAt: 1 };
    box.embedding = { vector: [1, 2, 3], modelVersion: 'v1' };
    const result = await client.sync();
    expect(result.embeddingDetail).toMatchObject({ device: 'pushed-after-conflict', deviceVersion: 6 });
    expect(storage.users.get(USER)?.learned).toBeUndefined();
    expect(server.device).toMatchObject({ vector: [1, 2, 3], version: 6 });
    expect(storage.metas.get(`sync:${USER}`)).toMatchObject({ deviceVersion: 6 });
    expect((await client.sync()).embeddingDetail?.device).toBe('unchanged');
    box.embedding = { vector: [1, 2, 4], modelVersion: 'v1' };
    expect((await client.sync()).embeddingDetail).toMatchObject({ device: 'pushed', deviceVersion: 7 });
  });

  it("adopts another device's learned embedding of the running bundle as its prior, and writes on top of it", async () => {
    const { server, client, box, storage } = await setup();
    server.device = { vector: [0.6, 0.8, 0], modelVersion: 'v1', version: 5, updatedAt: 42 };
    // No embedding of its own yet (no action): it writes nothing, it starts from the other device's.
    const result = await client.sync();
    expect(result.embeddingDetail?.device).toBe('none');
    expect(storage.users.get(USER)).toMatchObject({
      devicePrior: { vector: [0.6, 0.8, 0], modelVersion: 'v1', version: 5 },
      learned: { vector: [0.6, 0.8, 0], modelVersion: 'v1', source: 'remote', steps: 0, updatedAt: 42 },
    });
    expect(storage.metas.get(`sync:${USER}`)).toMatchObject({ deviceVersion: 5 });
    // Its own learning then writes on base 5: no conflict.
    box.embedding = { vector: [0, 1, 0], modelVersion: 'v1' };
    expect((await client.sync()).embeddingDetail).toMatchObject({ device: 'pushed', deviceVersion: 6 });
    // Its own write is not adopted back.
    await client.sync();
    expect(storage.users.get(USER)?.learned?.source).toBe('remote');
    expect(storage.users.get(USER)?.devicePrior?.version).toBe(5);
  });

  it("starts from the server's combination of another device's embedding with its own, where it serves one", async () => {
    const { server, client, storage } = await setup();
    server.server = { vector: [1, 0, 0], modelVersion: 'v1', eventSeq: 3, updatedAt: 7 };
    server.device = { vector: [0.6, 0.8, 0], modelVersion: 'v1', version: 2, updatedAt: 42 };
    server.combined = { vector: [0.8, 0.6, 0], modelVersion: 'v1', rule: '0.5', from: 'both' };
    await client.sync();
    expect(storage.users.get(USER)).toMatchObject({
      devicePrior: { vector: [0.8, 0.6, 0], modelVersion: 'v1', version: 2 },
      learned: { vector: [0.8, 0.6, 0], source: 'remote' },
      longTerm: { vector: [1, 0, 0], modelVersion: 'v1' },
    });
    // A combination of another bundle's embeddings is not used: the device's own, as before.
    const other = await setup();
    other.server.device = { vector: [0.6, 0.8, 0], modelVersion: 'v1', version: 2, updatedAt: 42 };
    other.server.combined = { vector: [0.8, 0.6, 0], modelVersion: 'v0', rule: '0.5', from: 'both' };
    await other.client.sync();
    expect(other.storage.users.get(USER)?.devicePrior?.vector).toEqual([0.6, 0.8, 0]);
  });
});
