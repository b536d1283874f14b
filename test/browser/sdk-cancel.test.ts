/**
 * Cancellation and timeouts: an aborted or timed-out createRecommender leaves no worker (CDP's target list)
 * and no open IndexedDB connection (the database is deleted without a `blocked` event); an aborted
 * recommend() rejects at once and the recommender carries on; an upgrade blocked by another connection
 * fails with STORAGE_BLOCKED after the bounded wait.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { StorageBlockedError } from '../../src/core/errors.ts';
import { EngineStorage } from '../../src/engine/storage/index.ts';
import { DB_VERSION } from '../../src/engine/storage/schema.ts';
import {
  AbortedError,
  createRecommender,
  type EdgerecError,
  isEdgerecError,
  type Recommender,
  TimeoutError,
} from '../../src/sdk/index.ts';
import { engineWorkersStartedFromNow, eventually, NONE } from './engine-workers.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
let databases = 0;
const databaseName = () => `edgerec-cancel-${run}-${++databases}`;
const opened: Recommender[] = [];
afterAll(async () => {
  for (const r of opened) await r.dispose().catch(() => {});
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );

/** Deletes a database; `blocked` is true when an open connection held the deletion up. */
function deleteDatabase(name: string): Promise<{ blocked: boolean }> {
  return new Promise((resolve, reject) => {
    let blocked = false;
    const request = indexedDB.deleteDatabase(name);
    request.onblocked = () => {
      blocked = true;
    };
    request.onsuccess = () => resolve({ blocked });
    request.onerror = () => reject(request.error);
  });
}

describe('cancellation and timeouts', () => {
  it('aborting createRecommender mid-download: ABORTED, no worker left, the database deletes without blocked', async () => {
    const engineWorkers = await engineWorkersStartedFromNow();
    const controller = new AbortController();
    const name = databaseName();
    const reason = new Error('the user navigated away');
    const error = await failure(
      createRecommender({
        bundleUrl: BUNDLES,
        userId: 'cancel',
        databaseName: name,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.phase === 'download') controller.abort(reason);
        },
      }),
    );
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as EdgerecError).code).toBe('ABORTED');
    expect((error as Error).cause).toBe(reason);
    expect(await eventually(engineWorkers, (w) => w.dedicated === 0, 5000)).toEqual(NONE);
    expect(await deleteDatabase(name)).toEqual({ blocked: false });
  });

  it('timeoutMs: TIMEOUT, cleaned up the same way; an already aborted signal starts no worker', async () => {
    const engineWorkers = await engineWorkersStartedFromNow();
    const name = databaseName();
    const error = await failure(
      createRecommender({ bundleUrl: BUNDLES, userId: 'timeout', databaseName: name, timeoutMs: 50 }),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).code).toBe('TIMEOUT');
    expect((error as TimeoutError).timeoutMs).toBe(50);
    expect(await eventually(engineWorkers, (w) => w.dedicated === 0, 5000)).toEqual(NONE);
    expect(await deleteDatabase(name)).toEqual({ blocked: false });

    const aborted = await failure(
      createRecommender({
        bundleUrl: BUNDLES,
        userId: 'early',
        databaseName: databaseName(),
        signal: AbortSignal.abort(),
      }),
    );
    expect(isEdgerecError(aborted, 'ABORTED')).toBe(true);
    expect(await engineWorkers()).toEqual(NONE);
    expect(
      isEdgerecError(
        await failure(createRecommender({ bundleUrl: BUNDLES, userId: 'x', timeoutMs: 0 })),
        'INVALID_OPTIONS',
      ),
    ).toBe(true);
  });

  it('recommend({ signal }): ABORTED at once when aborted, and the recommender keeps working', async () => {
    const engineWorkers = await engineWorkersStartedFromNow();
    const rec = await createRecommender({ bundleUrl: BUNDLES, userId: 'rec', databaseName: databaseName() });
    opened.push(rec);
    // The check the other tests rely on: Chromium lists a live engine worker.
    expect(await engineWorkers()).toEqual({ dedicated: 1, shared: 0 });
    const controller = new AbortController();
    const pending = failure(rec.recommend({ k: 10, signal: controller.signal }));
    controller.abort();
    expect(isEdgerecError(await pending, 'ABORTED')).toBe(true);
    expect(
      isEdgerecError(await failure(rec.recommend({ k: 10, signal: AbortSignal.abort() })), 'ABORTED'),
    ).toBe(true);
    expect((await rec.recommend({ k: 10, signal: new AbortController().signal })).items).toHaveLength(10);
  });

  it('an upgrade blocked by a connection that never closes: STORAGE_BLOCKED after the bounded wait, naming the cause', async () => {
    const name = databaseName();
    (await EngineStorage.open(name)).close();
    // An older tab's connection with no versionchange handler: it never steps aside.
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(name, DB_VERSION);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    // A newer release (schema version + 1) opening the same database.
    const error = await failure(EngineStorage.open(name, { version: DB_VERSION + 1, blockedTimeoutMs: 300 }));
    expect(error).toBeInstanceOf(StorageBlockedError);
    expect((error as StorageBlockedError).code).toBe('STORAGE_BLOCKED');
    expect((error as StorageBlockedError).waitedMs).toBe(300);
    expect((error as Error).message).toMatch(/another connection .* kept it open for 300 ms/);
    old.close();
    // The late open completes once the old connection is gone, and is closed at once: deletion is free.
    const upgraded = async () => (await indexedDB.databases()).find((d) => d.name === name)?.version;
    expect(await eventually(upgraded, (v) => v === DB_VERSION + 1, 5000)).toBe(DB_VERSION + 1);
    expect(await deleteDatabase(name)).toEqual({ blocked: false });
  });
});
