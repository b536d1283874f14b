import { createRecommender, type Recommender, type RecommenderOptions } from '../sdk/index.ts';

/**
 * Recommenders shared by the components that ask for the same options, counted, and disposed a moment
 * after the last one lets go. The moment is what makes React's StrictMode safe: it mounts, unmounts and
 * mounts again at once, and the second mount finds the first engine still there — one engine, one
 * worker, disposed once. Framework-free, so it is tested without React.
 */
interface Entry {
  recommender: Promise<Recommender>;
  holders: number;
  disposal?: ReturnType<typeof setTimeout>;
}

export interface Lease {
  recommender: Promise<Recommender>;
  /** Lets go; the engine is disposed when no holder is left after `DISPOSE_DELAY_MS`. */
  release(): void;
}

/** Long enough for StrictMode's unmount/remount (same task), short enough that a closed view frees its GPU. */
export const DISPOSE_DELAY_MS = 50;

const entries = new Map<string, Entry>();

/** The key of options that make a different engine; `onProgress` and a given `worker` do not count. */
export function recommenderKey({ onProgress: _, worker: __, ...options }: RecommenderOptions): string {
  return JSON.stringify(options, Object.keys(options).sort());
}

/** A lease on the recommender for these options: the shared one when there is one, else a new one. */
export function acquireRecommender(options: RecommenderOptions): Lease {
  const key = recommenderKey(options);
  let entry = entries.get(key);
  if (!entry) {
    const created: Entry = { recommender: createRecommender(options), holders: 0 };
    // A failed start is not shared: the next holder tries again.
    created.recommender.catch(() => {
      if (entries.get(key) === created) entries.delete(key);
    });
    entries.set(key, created);
    entry = created;
  }
  const held = entry;
  clearTimeout(held.disposal);
  held.disposal = undefined;
  held.holders++;
  let released = false;
  return {
    recommender: held.recommender,
    release() {
      if (released) return;
      released = true;
      if (--held.holders > 0) return;
      held.disposal = setTimeout(() => {
        if (held.holders > 0 || entries.get(key) !== held) return;
        entries.delete(key);
        held.recommender.then(
          (recommender) => recommender.dispose(),
          () => {},
        );
      }, DISPOSE_DELAY_MS);
    },
  };
}

/** How many recommenders are alive or starting (tests, diagnostics). */
export function sharedRecommenderCount(): number {
  return entries.size;
}
