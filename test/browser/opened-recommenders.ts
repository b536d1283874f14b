import { afterAll } from 'vitest';
import type { Recommender } from '../../src/sdk/index.ts';

/**
 * The recommenders a test file opens on `databaseName`: push each one here, and after the file's tests
 * every one is disposed and the database deleted.
 */
export function openedRecommenders(databaseName: string): Recommender[] {
  const opened: Recommender[] = [];
  afterAll(async () => {
    for (const r of opened) await r.dispose().catch(() => {});
    await new Promise((resolve) => {
      const request = indexedDB.deleteDatabase(databaseName);
      request.onsuccess = request.onerror = request.onblocked = resolve;
    });
  });
  return opened;
}
