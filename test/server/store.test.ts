import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.ts';
import type { Event } from '../../src/core/events.ts';
import { openPostgresStore, openSqliteStore, openStore, type Store } from '../../src/server/store/index.ts';

const DATABASE_URL = process.env.EDGEREC_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One adapter under test: each `newDatabase()` names a database no other test touches. */
interface Harness {
  name: string;
  newDatabase(): string;
  open(database: string): Promise<Store>;
  cleanUp(): Promise<void>;
}

function sqliteHarness(): Harness {
  const root = mkdtempSync(join(tmpdir(), 'edgerec-store-'));
  let n = 0;
  return {
    name: 'sqlite',
    // Nested, so every open also proves the parent folder gets created.
    newDatabase: () => join(root, `db${++n}`, 'nested', 'edgerec.db'),
    open: (file) => openSqliteStore(file),
    cleanUp: async () => rmSync(root, { recursive: true, force: true }),
  };
}

function postgresHarness(): Harness {
  const base = `edgerec_test_${randomBytes(6).toString('hex')}`;
  const schemas: string[] = [];
  return {
    name: 'postgres',
    newDatabase: () => {
      schemas.push(`${base}_${schemas.length + 1}`);
      return schemas[schemas.length - 1];
    },
    open: (schema) => openPostgresStore(DATABASE_URL, { schema }),
    cleanUp: async () => {
      const client = new pg.Client(DATABASE_URL);
      await client.connect();
      try {
        for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

function event(userId: string, id: string, extra: Partial<Event> = {}): Event {
  return { id, userId, itemId: `item-${id}`, action: 'click', ts: 1_700_000_000_000, ...extra };
}

const harnesses = [sqliteHarness(), postgresHarness()];

describe.each(harnesses.map((h) => [h.name, h] as const))('%s store', (kind, h) => {
  const opened: Store[] = [];
  async function open(database = h.newDatabase()): Promise<Store> {
    const store = await h.open(database);
    opened.push(store);
    return store;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });
  afterAll(() => h.cleanUp());

  it('reports its kind, answers ping, and closes more than once', async () => {
    const store = await open();
    expect(store.kind).toBe(kind);
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
    await store.close();
  });

  it('stores a batch once: the same batch again is all duplicates', async () => {
    const store = await open();
    const batch = [event('u1', 'a'), event('u1', 'b'), event('u1', 'c')];
    expect(await store.insertEvents(batch)).toEqual({ accepted: 3, duplicates: 0, conflicts: [] });
    expect(await store.insertEvents(batch)).toEqual({ accepted: 0, duplicates: 3, conflicts: [] });
    expect(await store.countEvents('u1')).toBe(3);
    expect(await store.insertEvents([])).toEqual({ accepted: 0, duplicates: 0, conflicts: [] });
  });

  it('counts repeats within one batch as duplicates (a changed one as a conflict), ids scoped per user', async () => {
    const store = await open();
    const batch = [
      event('u1', 'a'),
      event('u1', 'a', { itemId: 'other' }),
      event('u1', 'b'),
      event('u2', 'a'),
    ];
    expect(await store.insertEvents(batch)).toEqual({ accepted: 3, duplicates: 1, conflicts: ['a'] });
    const u1 = await store.eventsOf('u1');
    expect(u1.map((e) => [e.id, e.itemId])).toEqual([
      ['a', 'item-a'],
      ['b', 'item-b'],
    ]);
    expect(await store.countEvents('u2')).toBe(1);
  });

  it('reports an id re-sent with other content as a conflict and keeps the stored event', async () => {
    const store = await open();
    const first = [
      event('u1', 'a'),
      event('u1', 'b', { surface: 'home' }),
      event('u1', 'c', { dwellMs: 1200 }),
      event('u1', 'd', { ts: 1_700_000_000_000.5 }),
    ];
    expect(await store.insertEvents(first)).toEqual({ accepted: 4, duplicates: 0, conflicts: [] });
    const again = [
      event('u1', 'a'), // the same: a retry
      event('u1', 'b'), // surface dropped
      event('u1', 'c', { dwellMs: 1201 }),
      event('u1', 'd', { ts: 1_700_000_000_000.5 }), // the same fractional ts: a retry
      event('u1', 'e'), // new
      event('u1', 'a', { action: 'save' }),
      event('u2', 'b', { surface: 'other' }), // another user's id space
    ];
    const result = await store.insertEvents(again);
    expect(result.accepted).toBe(2);
    expect(result.duplicates).toBe(5);
    expect([...result.conflicts].sort()).toEqual(['a', 'b', 'c']);
    const stored = await store.eventsOf('u1');
    expect(stored.map(({ seq: _, ...e }) => e)).toEqual([...first, event('u1', 'e')]);
  });

  it('assigns strictly increasing seq in insertion order, across batches and users', async () => {
    const store = await open();
    await store.insertEvents([event('u1', 'z'), event('u2', 'y'), event('u1', 'x')]);
    await store.insertEvents([event('u1', 'x'), event('u1', 'w'), event('u2', 'v')]);
    const all = [...(await store.eventsOf('u1')), ...(await store.eventsOf('u2'))].sort(
      (a, b) => a.seq - b.seq,
    );
    expect(all.map((e) => e.id)).toEqual(['z', 'y', 'x', 'w', 'v']);
    for (const [i, e] of all.entries()) {
      expect(Number.isInteger(e.seq)).toBe(true);
      if (i > 0) expect(e.seq).toBeGreaterThan(all[i - 1].seq);
    }
  });

  it('round-trips optional fields and leaves absent ones absent', async () => {
    const store = await open();
    const full = event('u1', 'full', { surface: 'home', dwellMs: 1234.5, ts: 1_700_000_000_123.25 });
    const bare = event('u1', 'bare', { action: 'hide', ts: 0 });
    const one = event('u1', 'one', { dwellMs: 0 });
    await store.insertEvents([full, bare, one]);
    const [a, b, c] = await store.eventsOf('u1');
    expect(a).toEqual({ ...full, seq: a.seq });
    expect(b).toEqual({ ...bare, seq: b.seq });
    expect(c).toEqual({ ...one, seq: c.seq });
    expect('surface' in b).toBe(false);
    expect('dwellMs' in b).toBe(false);
    expect('surface' in c).toBe(false);
    expect(c.dwellMs).toBe(0);
  });

  it('pages a user with afterSeq and limit, oldest first', async () => {
    const store = await open();
    await store.insertEvents(Array.from({ length: 7 }, (_, i) => event('u1', `e${i}`)));
    const first = await store.eventsOf('u1', { limit: 3 });
    expect(first.map((e) => e.id)).toEqual(['e0', 'e1', 'e2']);
    const second = await store.eventsOf('u1', { afterSeq: first[2].seq, limit: 3 });
    expect(second.map((e) => e.id)).toEqual(['e3', 'e4', 'e5']);
    const rest = await store.eventsOf('u1', { afterSeq: second[2].seq });
    expect(rest.map((e) => e.id)).toEqual(['e6']);
    expect(await store.eventsOf('u1', { afterSeq: rest[0].seq })).toEqual([]);
    expect(await store.eventsOf('u1', { limit: 0 })).toEqual([]);
    expect(await store.eventsOf('nobody')).toEqual([]);
  });

  it('recentEventsOf returns the newest events, oldest first', async () => {
    const store = await open();
    await store.insertEvents(Array.from({ length: 5 }, (_, i) => event('u1', `e${i}`)));
    await store.insertEvents([event('u2', 'late')]);
    expect((await store.recentEventsOf('u1', 3)).map((e) => e.id)).toEqual(['e2', 'e3', 'e4']);
    expect((await store.recentEventsOf('u1', 50)).map((e) => e.id)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(await store.recentEventsOf('u1', 0)).toEqual([]);
  });

  it('keeps users apart in reads and counts', async () => {
    const store = await open();
    await store.insertEvents([event('u1', 'a'), event('u2', 'b'), event('u1', 'c'), event('u3', 'd')]);
    expect((await store.eventsOf('u1')).map((e) => e.userId)).toEqual(['u1', 'u1']);
    expect((await store.recentEventsOf('u2', 10)).map((e) => e.id)).toEqual(['b']);
    expect(await store.countEvents('u1')).toBe(2);
    expect(await store.countEvents('u3')).toBe(1);
    expect(await store.countEvents('nobody')).toBe(0);
    expect(await store.countEvents()).toBe(4);
  });

  it("deleteEventsOf removes only that user's events and says how many", async () => {
    const store = await open();
    await store.insertEvents([event('u1', 'a'), event('u1', 'b'), event('u2', 'c')]);
    expect(await store.deleteEventsOf('u1')).toBe(2);
    expect(await store.deleteEventsOf('u1')).toBe(0);
    expect(await store.eventsOf('u1')).toEqual([]);
    expect(await store.countEvents()).toBe(1);
    expect((await store.eventsOf('u2')).map((e) => e.id)).toEqual(['c']);
    // Deleted events never come back as duplicates of themselves: the ids are free again.
    expect(await store.insertEvents([event('u1', 'a')])).toEqual({
      accepted: 1,
      duplicates: 0,
      conflicts: [],
    });
  });

  it('takes a batch of 500 in one call', async () => {
    const store = await open();
    const batch = Array.from({ length: 500 }, (_, i) => event(`u${i % 7}`, `e${i}`, { ts: i }));
    const started = performance.now();
    expect(await store.insertEvents(batch)).toEqual({ accepted: 500, duplicates: 0, conflicts: [] });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await store.countEvents()).toBe(500);
    const u3 = await store.eventsOf('u3');
    expect(u3.map((e) => e.ts)).toEqual(batch.filter((e) => e.userId === 'u3').map((e) => e.ts));
  });

  it('round-trips a server embedding exactly', async () => {
    const store = await open();
    expect(await store.serverEmbedding('u1')).toBeUndefined();
    const vector = [
      ...Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i + 1) * 3.7)),
      Math.fround(1e-40),
      Math.fround(3.4e38),
      Math.fround(-0.1),
    ];
    const embedding = { vector, modelVersion: 'm-2024.1', eventSeq: 42, updatedAt: 1_700_000_000_000 };
    await store.putServerEmbedding('u1', embedding);
    const back = await store.serverEmbedding('u1');
    expect(back).toEqual(embedding);
    expect(back!.vector.every((x, i) => x === vector[i] && Math.fround(x) === x)).toBe(true);
    const next = {
      vector: [Math.fround(0.5)],
      modelVersion: 'm-2024.2',
      eventSeq: 43,
      updatedAt: 1_700_000_000_001,
    };
    await store.putServerEmbedding('u1', next);
    expect(await store.serverEmbedding('u1')).toEqual(next);
    expect(await store.serverEmbedding('u2')).toBeUndefined();
  });

  it('compare-and-sets the device embedding on baseVersion', async () => {
    const store = await open();
    const v1 = [Math.fround(0.1), Math.fround(-2.3)];
    const v2 = [Math.fround(0.7), Math.fround(1e-7)];
    expect(await store.deviceEmbedding('u1')).toBeUndefined();
    // No row yet: only base 0 may create it.
    expect(await store.putDeviceEmbedding('u1', { vector: v1, modelVersion: 'm1', baseVersion: 1 })).toEqual({
      ok: false,
      current: undefined,
    });
    const first = await store.putDeviceEmbedding('u1', { vector: v1, modelVersion: 'm1', baseVersion: 0 });
    expect(first.ok).toBe(true);
    expect(first.current).toMatchObject({ vector: v1, modelVersion: 'm1', version: 1 });
    expect(first.current!.updatedAt).toBeGreaterThan(0);
    const second = await store.putDeviceEmbedding('u1', { vector: v2, modelVersion: 'm2', baseVersion: 1 });
    expect(second).toEqual({
      ok: true,
      current: { ...second.current, vector: v2, modelVersion: 'm2', version: 2 },
    });
    expect(await store.deviceEmbedding('u1')).toEqual(second.current);
  });

  it('refuses a stale base with the current embedding', async () => {
    const store = await open();
    const v1 = [Math.fround(1.1)];
    const v2 = [Math.fround(2.2)];
    await store.putDeviceEmbedding('u1', { vector: v1, modelVersion: 'm', baseVersion: 0 });
    const winner = await store.putDeviceEmbedding('u1', { vector: v2, modelVersion: 'm', baseVersion: 1 });
    for (const baseVersion of [0, 1, 3]) {
      const stale = await store.putDeviceEmbedding('u1', { vector: [9], modelVersion: 'x', baseVersion });
      expect(stale).toEqual({ ok: false, current: winner.current });
    }
    expect((await store.deviceEmbedding('u1'))!.version).toBe(2);
  });

  it('lets exactly one of concurrent first writes win across two store instances', async () => {
    const database = h.newDatabase();
    const [a, b] = [await open(database), await open(database)];
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? a : b).putDeviceEmbedding('u1', {
          vector: [Math.fround(i / 10)],
          modelVersion: `w${i}`,
          baseVersion: 0,
        }),
      ),
    );
    const winners = results.filter((r) => r.ok);
    expect(winners.length).toBe(1);
    const current = winners[0].current;
    expect(current!.version).toBe(1);
    for (const loser of results.filter((r) => !r.ok)) expect(loser.current).toEqual(current);
    expect(await b.deviceEmbedding('u1')).toEqual(current);
  });

  it('lets exactly one of concurrent updates from the same base win', async () => {
    const database = h.newDatabase();
    const [a, b] = [await open(database), await open(database)];
    await a.putDeviceEmbedding('u1', { vector: [1], modelVersion: 'm', baseVersion: 0 });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 === 0 ? a : b).putDeviceEmbedding('u1', { vector: [i], modelVersion: 'm', baseVersion: 1 }),
      ),
    );
    expect(results.filter((r) => r.ok).length).toBe(1);
    expect((await a.deviceEmbedding('u1'))!.version).toBe(2);
  });

  it('defaults settings and upserts them', async () => {
    const store = await open();
    expect(await store.settings('u1')).toEqual({ privacy: false, updatedAt: 0 });
    const on = await store.putSettings('u1', { privacy: true });
    expect(on.privacy).toBe(true);
    expect(on.updatedAt).toBeGreaterThan(0);
    expect(await store.settings('u1')).toEqual(on);
    const off = await store.putSettings('u1', { privacy: false });
    expect(await store.settings('u1')).toEqual(off);
    expect(off.updatedAt).toBeGreaterThanOrEqual(on.updatedAt);
    expect(await store.settings('u2')).toEqual({ privacy: false, updatedAt: 0 });
  });

  it('lists stale users by their newest seq until a server embedding catches up', async () => {
    const store = await open();
    expect(await store.staleUsers(10)).toEqual([]);
    await store.insertEvents([event('a', '1'), event('b', '1'), event('a', '2'), event('c', '1')]);
    const seqOf = async (user: string) => (await store.recentEventsOf(user, 1))[0].seq;
    const [a, b, c] = [await seqOf('a'), await seqOf('b'), await seqOf('c')];
    expect(await store.staleUsers(10)).toEqual([
      { userId: 'b', lastSeq: b },
      { userId: 'a', lastSeq: a },
      { userId: 'c', lastSeq: c },
    ]);
    expect(await store.staleUsers(2)).toEqual([
      { userId: 'b', lastSeq: b },
      { userId: 'a', lastSeq: a },
    ]);
    const embedding = { vector: [0.5], modelVersion: 'm', updatedAt: 1 };
    await store.putServerEmbedding('a', { ...embedding, eventSeq: a });
    await store.putServerEmbedding('b', { ...embedding, eventSeq: b - 1 });
    expect(await store.staleUsers(10)).toEqual([
      { userId: 'b', lastSeq: b },
      { userId: 'c', lastSeq: c },
    ]);
    await store.insertEvents([event('a', '3'), event('a', '2')]);
    const a2 = await seqOf('a');
    expect(a2).toBeGreaterThan(c);
    expect(await store.staleUsers(10)).toEqual([
      { userId: 'b', lastSeq: b },
      { userId: 'c', lastSeq: c },
      { userId: 'a', lastSeq: a2 },
    ]);
    await store.deleteEventsOf('c');
    expect((await store.staleUsers(10)).map((u) => u.userId)).toEqual(['b', 'a']);
    expect(await store.staleUsers(0)).toEqual([]);
  });

  it('rejects non-finite vectors and bad counts as input errors', async () => {
    const store = await open();
    const write = { vector: [1, Number.NaN], modelVersion: 'm', baseVersion: 0 };
    await expect(store.putDeviceEmbedding('u1', write)).rejects.toBeInstanceOf(InputError);
    await expect(
      store.putServerEmbedding('u1', { vector: [Infinity], modelVersion: 'm', eventSeq: 1, updatedAt: 1 }),
    ).rejects.toBeInstanceOf(InputError);
    await expect(store.recentEventsOf('u1', -1)).rejects.toBeInstanceOf(InputError);
    await expect(store.eventsOf('u1', { limit: 1.5 })).rejects.toBeInstanceOf(InputError);
    await expect(store.staleUsers(-1)).rejects.toBeInstanceOf(InputError);
    expect(await store.deviceEmbedding('u1')).toBeUndefined();
  });

  it('migrates idempotently: reopening the same database keeps its data', async () => {
    const database = h.newDatabase();
    const first = await open(database);
    await first.insertEvents([event('u1', 'a')]);
    await first.putSettings('u1', { privacy: true });
    await first.close();
    const second = await open(database);
    const third = await open(database);
    expect(await second.countEvents()).toBe(1);
    expect((await third.settings('u1')).privacy).toBe(true);
    expect(await third.insertEvents([event('u1', 'a'), event('u1', 'b')])).toEqual({
      accepted: 1,
      duplicates: 1,
      conflicts: [],
    });
    expect(await second.countEvents('u1')).toBe(2);
  });

  it('opens one new database from two stores at once', async () => {
    const database = h.newDatabase();
    const [a, b] = await Promise.all([open(database), open(database)]);
    expect(await a.insertEvents([event('u1', 'a')])).toEqual({ accepted: 1, duplicates: 0, conflicts: [] });
    expect(await b.insertEvents([event('u1', 'a'), event('u1', 'b')])).toEqual({
      accepted: 1,
      duplicates: 1,
      conflicts: [],
    });
    expect((await a.eventsOf('u1')).map((e) => e.id)).toEqual(['a', 'b']);
  });
});

describe('openStore', () => {
  const root = mkdtempSync(join(tmpdir(), 'edgerec-open-store-'));
  const schema = `edgerec_test_${randomBytes(6).toString('hex')}`;
  afterAll(async () => {
    rmSync(root, { recursive: true, force: true });
    const client = new pg.Client(DATABASE_URL);
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('keeps SQLite at <dataDir>/edgerec.db without a database URL', async () => {
    const dataDir = join(root, 'data', 'dir');
    const store = await openStore({ dataDir });
    expect(store.kind).toBe('sqlite');
    expect(existsSync(join(dataDir, 'edgerec.db'))).toBe(true);
    await store.close();
  });

  it('uses PostgreSQL for a postgres:// URL, in the given schema', async () => {
    const store = await openStore({ databaseUrl: DATABASE_URL, dataDir: root, schema });
    expect(store.kind).toBe('postgres');
    await store.ping();
    await store.close();
  });

  it('rejects another scheme as an input error that hides the credentials', async () => {
    const error = await openStore({ databaseUrl: 'mysql://me:secret@db/x', dataDir: root }).catch((e) => e);
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toContain('postgres://');
    expect(error.message).not.toContain('secret');
    await expect(openStore({ databaseUrl: 'not a url', dataDir: root })).rejects.toBeInstanceOf(InputError);
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    await expect(
      openStore({ databaseUrl: DATABASE_URL, dataDir: root, schema: 'x"; DROP TABLE y; --' }),
    ).rejects.toBeInstanceOf(InputError);
  });
});
