import type { CachedVersion, CacheInfo, CachePruned } from '../core/contract/types.ts';
import { type EngineStorage, manifestFiles } from './storage/index.ts';

/** The cache's versions with their stored bytes, and the browser's persistence and estimate. */
export async function cacheInfo(storage: EngineStorage): Promise<CacheInfo> {
  const sizes = await storage.storedFileSizes();
  const current = await storage.currentVersion();
  const previous = await storage.meta<string>('previous');
  const versions: CachedVersion[] = [];
  for (const version of await storage.versions()) {
    const record = await storage.manifestRecord(version);
    const stored = (record ? manifestFiles(record.manifest) : []).filter((ref) => sizes.has(ref.sha256));
    versions.push({
      version,
      current: version === current,
      previous: version === previous,
      files: stored.length,
      bytes: stored.reduce((sum, ref) => sum + sizes.get(ref.sha256)!, 0),
    });
  }
  // persisted() and estimate() exist in workers too (persist() does not: the SDK asks from the page).
  const manager = (globalThis.navigator as Navigator | undefined)?.storage;
  const persisted = (await manager?.persisted?.()) ?? false;
  const estimate = await manager?.estimate?.().catch(() => undefined);
  let bytes = 0;
  for (const size of sizes.values()) bytes += size;
  return {
    versions,
    bytes,
    files: sizes.size,
    persisted,
    ...(estimate?.usage !== undefined ? { usage: estimate.usage } : {}),
    ...(estimate?.quota !== undefined ? { quota: estimate.quota } : {}),
  };
}

/** Deletes every version but the current (and a pending) one, and the files only they used. */
export async function pruneCache(storage: EngineStorage): Promise<CachePruned> {
  const before = await storage.storedFileSizes();
  const { removedVersions, removedFiles } = await storage.pruneExcept([]);
  const after = await storage.storedFileSizes();
  let bytes = 0;
  for (const [sha256, size] of before) if (!after.has(sha256)) bytes += size;
  return { versions: removedVersions, files: removedFiles, bytes };
}
