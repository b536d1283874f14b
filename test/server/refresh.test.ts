/**
 * The refresh job on the real tiny trained run and bundle (`test/generated/`, built by the browser project's
 * global setup when missing), over the real SQLite store in a temp dir: what it writes must equal what
 * training computes for the same events.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../src/core/bundle/index.ts';
import { InputError } from '../../src/core/errors.ts';
import type { Event } from '../../src/core/events.ts';
import {
  BundleMismatchError,
  openRefreshJob,
  type RefreshJob,
  sha256OfFile,
  UserEncoder,
} from '../../src/server/refresh/index.ts';
import { openStore, type Store } from '../../src/server/store/index.ts';
import { longTermSnapshot } from '../../src/train/bundle/snapshots.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import {
  actionSequences,
  loadPinnerFormer,
  PinnerFormerRecommender,
  sequenceFromEvents,
} from '../../src/train/pinnerformer/index.ts';
import setupTinyBundle, { BUNDLE_DIR } from '../browser/setup/bundle.global.ts';

const GENERATED = join(dirname(fileURLToPath(import.meta.url)), '..', 'generated');
const RUN_DIR = join(GENERATED, 'run');
const EVENTS_FILE = join(GENERATED, 'data', 'events.jsonl');

let events: Event[];
let latest: string;
const temps: string[] = [];
const stores: Store[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgerec-refresh-'));
  temps.push(dir);
  return dir;
}

async function sqliteStore(): Promise<Store> {
  const store = await openStore({ dataDir: tempDir() });
  stores.push(store);
  return store;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

beforeAll(async () => {
  await setupTinyBundle();
  events = readFileSync(EVENTS_FILE, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Event);
  latest = (JSON.parse(readFileSync(join(BUNDLE_DIR, 'latest.json'), 'utf8')) as { version: string }).version;
}, 300_000);

afterAll(async () => {
  for (const store of stores) await store.close();
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

describe('refresh job on the tiny run (real SQLite store)', () => {
  let store: Store;
  let job: RefreshJob;

  it('writes, for every user, the long-term embedding training computes from the same events', async () => {
    store = await sqliteStore();
    await store.insertEvents(events);
    job = await openRefreshJob({ store, runDir: RUN_DIR, modelsDir: BUNDLE_DIR, batchUsers: 64 });
    expect(job.modelVersion).toBe(latest);
    expect(job.maxEvents).toBe(50);

    const result = await job.runOnce();
    const users = new Set(events.map((e) => e.userId));
    expect(result.users).toBe(users.size);
    expect(result.users).toBe(300);
    expect(result.batches).toBe(Math.ceil(300 / 64));
    expect(result.skippedItems).toBe(0);
    // Impressions are 84 % of the events, so reads widen past 4 × 50 for users with long histories.
    expect(result.events).toBeGreaterThan(4 * 50 * 10);
    expect(result.events).toBeLessThanOrEqual(events.length);
    expect(job.usersRefreshed).toBe(300);
    expect(job.passes).toBe(1);
    expect(job.lastDurationSeconds).toBeGreaterThan(0);
    console.log(
      `refresh: 300 users in ${result.seconds.toFixed(2)} s, ${result.batches} batches of 64; ` +
        `last batch ${job.lastBatchUsers} users in ${(job.lastBatchSeconds * 1000).toFixed(0)} ms`,
    );

    // Training's code path, computed independently: the data set's log → actionSequences →
    // longTermSnapshot (embedSequences, zeros for no history) with the run's PinnerFormer.
    const dataset = await loadDataset(EVENTS_FILE, 'events');
    const { model, hasTimestamps } = await loadPinnerFormer(join(RUN_DIR, 'pinnerformer', 'model'));
    const teacher = PinnerFormerRecommender.fromModel(model, hasTimestamps);
    const sequences = actionSequences(dataset.log, dataset.users.size, dataset.hasTimestamps);
    const expected = longTermSnapshot(teacher, sequences, Number.POSITIVE_INFINITY);
    const dim = model.options.dim;
    const [newestOfU33] = await store.recentEventsOf('u33', 1);
    let worst = 0;
    let nonZero = 0;
    for (const [u, userId] of dataset.users.toArray().entries()) {
      const stored = await store.serverEmbedding(userId);
      expect(stored, userId).toBeDefined();
      expect(stored!.modelVersion).toBe(latest);
      worst = Math.max(worst, maxAbsDiff(stored!.vector, expected.subarray(u * dim, (u + 1) * dim)));
      if (stored!.vector.some((x) => x !== 0)) nonZero++;
    }
    // Training embeds users in other batches than the job's batches of 64, so sequences are padded to other
    // lengths: the masked padding changes float32 rounding only (5.5e-6 measured since positions count from
    // the window's start); a feature or a position off by one moves these unit vectors by far more.
    expect(worst).toBeLessThan(1e-5);
    expect(nonZero).toBe(300);
    // eventSeq is the newest seq the job read.
    expect((await store.serverEmbedding('u33'))!.eventSeq).toBe(newestOfU33.seq);
  });

  it('re-embeds only users with new events on the next pass', async () => {
    expect(await store.staleUsers(10)).toEqual([]);
    const second = await job.runOnce();
    expect(second.users).toBe(0);
    expect(second.batches).toBe(0);

    const before = await store.serverEmbedding('u5');
    const untouched = await store.serverEmbedding('u7');
    const catalogIds = JSON.parse(readFileSync(join(RUN_DIR, 'ids.json'), 'utf8')).items as string[];
    const newest = Math.max(...events.map((e) => e.ts));
    const added: Event[] = ['u5', 'u30', 'u81'].flatMap((userId, k) => [
      { id: `new-${k}-a`, userId, itemId: catalogIds[10 + k], action: 'save', ts: newest + 1000 },
      { id: `new-${k}-b`, userId, itemId: catalogIds[20 + k], action: 'click', ts: newest + 2000 },
      { id: `new-${k}-c`, userId, itemId: catalogIds[30 + k], action: 'impression', ts: newest + 3000 },
    ]);
    expect((await store.insertEvents(added)).accepted).toBe(9);
    expect((await store.staleUsers(10)).map((u) => u.userId).sort()).toEqual(['u30', 'u5', 'u81']);

    const third = await job.runOnce();
    expect(third.users).toBe(3);
    expect(third.emptyUsers).toBe(0);
    expect(await store.staleUsers(10)).toEqual([]);

    // u5's embedding now equals embedSequences of its whole history plus the new events, computed here.
    const after = (await store.serverEmbedding('u5'))!;
    expect(maxAbsDiff(after.vector, before!.vector)).toBeGreaterThan(1e-4);
    expect(after.eventSeq).toBeGreaterThan(before!.eventSeq);
    const mine = [...events.filter((e) => e.userId === 'u5'), ...added.filter((e) => e.userId === 'u5')];
    const rows = new Map(catalogIds.map((id, i) => [id, i]));
    const { model, hasTimestamps } = await loadPinnerFormer(join(RUN_DIR, 'pinnerformer', 'model'));
    const teacher = PinnerFormerRecommender.fromModel(model, hasTimestamps);
    const sequence = sequenceFromEvents(
      {
        items: Int32Array.from(mine, (e) => rows.get(e.itemId)!),
        actions: Uint8Array.from(mine, (e) =>
          ['impression', 'click', 'closeup', 'save', 'hide'].indexOf(e.action),
        ),
        ts: Float64Array.from(mine, (e) => e.ts),
      },
      hasTimestamps,
    );
    expect(maxAbsDiff(after.vector, teacher.embedSequences([sequence]))).toBeLessThan(1e-6);
    expect(await store.serverEmbedding('u7')).toEqual(untouched);
  });

  it('writes zeros for a user without a usable action, counts unknown items, and does not re-read them', async () => {
    const known = events[0].itemId;
    const ghost: Event[] = [
      { id: 'g1', userId: 'ghost', itemId: known, action: 'impression', ts: 1 },
      { id: 'g2', userId: 'ghost', itemId: 'not-in-the-catalog', action: 'click', ts: 2 },
      { id: 'g3', userId: 'ghost', itemId: 'also-unknown', action: 'save', ts: 3 },
    ];
    await store.insertEvents(ghost);
    const result = await job.runOnce();
    expect(result).toMatchObject({ users: 1, events: 3, skippedItems: 2, emptyUsers: 1 });
    const stored = (await store.serverEmbedding('ghost'))!;
    expect(stored.vector).toEqual(new Array(64).fill(0));
    expect(stored.modelVersion).toBe(latest);
    expect((await job.runOnce()).users).toBe(0);
    expect(job.skippedItems).toBe(2);
    expect(job.emptyUsers).toBe(1);
  });

  it('joins a pass in progress rather than overlapping, and start/stop run it on a timer', async () => {
    await store.insertEvents([{ id: 'n1', userId: 'u9', itemId: events[0].itemId, action: 'click', ts: 5 }]);
    const a = job.runOnce();
    const b = job.runOnce();
    expect(b).toBe(a);
    expect(job.running).toBe(true);
    expect((await a).users).toBe(1);
    expect(job.running).toBe(false);

    await store.insertEvents([{ id: 'n2', userId: 'u9', itemId: events[1].itemId, action: 'save', ts: 6 }]);
    const passes = job.passes;
    job.start({ immediate: true });
    job.start(); // a second start is a no-op
    for (let i = 0; i < 200 && job.passes === passes; i++) await new Promise((r) => setTimeout(r, 10));
    await job.stop();
    expect(job.passes).toBe(passes + 1);
    expect(job.lastResult?.users).toBe(1);
    expect(job.running).toBe(false);
    expect(await store.staleUsers(10)).toEqual([]);
  });
});

describe('UserEncoder', () => {
  it('embeds store events like the model does, sorted by time, newest maxLength actions', async () => {
    const encoder = await UserEncoder.load(RUN_DIR);
    expect(encoder.itemsSha256).toBe(sha256OfFile(join(RUN_DIR, 'pinnerformer', 'items.f32')));
    const id = (k: number) => encoder.itemIds[k];
    const shuffled = [
      { id: 'b', userId: 'x', itemId: id(2), action: 'save' as const, ts: 20, seq: 2 },
      { id: 'a', userId: 'x', itemId: id(1), action: 'click' as const, ts: 10, seq: 1 },
      { id: 'c', userId: 'x', itemId: id(3), action: 'impression' as const, ts: 30, seq: 3 },
      { id: 'd', userId: 'x', itemId: 'nope', action: 'click' as const, ts: 40, seq: 4 },
    ];
    const input = encoder.input(shuffled);
    expect(Array.from(input.sequence.items)).toEqual([1, 2]);
    expect(Array.from(input.sequence.actions)).toEqual([1, 3]);
    expect(input.skippedItems).toBe(1);
    expect(Array.from(encoder.input(shuffled, 1).sequence.items)).toEqual([2]);
  });
});

describe('openRefreshJob refuses what it cannot match', () => {
  it('refuses a latest bundle built from another run, even when an older version matches', async () => {
    const registry = tempDir();
    cpSync(join(BUNDLE_DIR, latest), join(registry, latest), { recursive: true });
    // Another run's bundle: the same files but a different f32 item table.
    const other = 'other-run';
    cpSync(join(BUNDLE_DIR, latest), join(registry, other), { recursive: true });
    const manifestFile = join(registry, other, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as BundleManifest;
    const f32 = manifest.items.find((t) => t.dtype === 'f32')!;
    const table = new Float32Array(readFileSync(join(registry, other, f32.file)).buffer.slice(0));
    table[0] += 0.5;
    rmSync(join(registry, other, f32.file));
    f32.file = 'items-f32.other.bin';
    writeFileSync(join(registry, other, f32.file), new Uint8Array(table.buffer));
    f32.sha256 = sha256OfFile(join(registry, other, f32.file));
    writeFileSync(manifestFile, JSON.stringify(manifest));
    writeFileSync(join(registry, 'latest.json'), JSON.stringify({ version: other }));

    const store = await sqliteStore();
    const opening = openRefreshJob({ store, runDir: RUN_DIR, modelsDir: registry });
    await expect(opening).rejects.toThrow(BundleMismatchError);
    await expect(opening).rejects.toThrow(/latest bundle other-run .* was not built from this run/);
    await expect(opening).rejects.toBeInstanceOf(InputError);

    // Pointing latest back at the run's own bundle is accepted.
    writeFileSync(join(registry, 'latest.json'), JSON.stringify({ version: latest }));
    const job = await openRefreshJob({ store, runDir: RUN_DIR, modelsDir: registry, intervalMinutes: 5 });
    expect(job.modelVersion).toBe(latest);
    expect(job.intervalMinutes).toBe(5);
    expect(readdirSync(registry).sort()).toEqual(['latest.json', latest, other].sort());
  });

  it('reports a missing run or registry as an InputError', async () => {
    const store = await sqliteStore();
    const empty = tempDir();
    await expect(
      openRefreshJob({ store, runDir: join(empty, 'nope'), modelsDir: BUNDLE_DIR }),
    ).rejects.toThrow(/training run .* does not exist/);
    await expect(openRefreshJob({ store, runDir: empty, modelsDir: BUNDLE_DIR })).rejects.toThrow(
      /is not a trained run/,
    );
    await expect(openRefreshJob({ store, runDir: RUN_DIR, modelsDir: empty })).rejects.toThrow(
      /holds no published bundle/,
    );
    await expect(
      openRefreshJob({ store, runDir: RUN_DIR, modelsDir: join(empty, 'x') }),
    ).rejects.toBeInstanceOf(InputError);
  });
});
