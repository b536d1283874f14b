import type { CacheInfo, CachePruned, EngineApi } from '../core/contract/index.ts';

/** The bundle cache of a recommender: what it holds, keeping it from eviction, and freeing old versions. */
export interface RecommenderCache {
  /** Cached versions (current, previous) with their bytes, all bytes, `persisted`, the origin's estimate. */
  info(): Promise<CacheInfo>;
  /**
   * Asks the browser not to evict this origin's storage (`navigator.storage.persist()`, which only a page
   * may call); resolves with whether it is persisted now. Browsers grant it by their own rules (an
   * installed app, a bookmark, engagement) and may say no without asking the user.
   */
  persist(): Promise<boolean>;
  /** Deletes every cached version but the current one, with the files only they use; says what it freed. */
  prune(): Promise<CachePruned>;
}

export function cacheControl(remote: () => EngineApi): RecommenderCache {
  return {
    info: () => remote().cacheInfo(),
    async persist() {
      const manager = globalThis.navigator?.storage;
      if (!manager?.persist) return false;
      return manager.persist();
    },
    prune: () => remote().pruneCache(),
  };
}
