import { afterAll, describe, expect, it } from 'vitest';
import {
  acquireRecommender,
  DISPOSE_DELAY_MS,
  sharedRecommenderCount,
} from '../../src/react/shared-recommender.ts';
import type { RecommenderOptions } from '../../src/sdk/index.ts';

// What edgerec's React hooks stand on, without React: StrictMode mounts, unmounts and mounts again in
// one go; the engine must be created once and disposed once, after the last holder lets go.
const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const options = (name: string): RecommenderOptions => ({
  bundleUrl: BUNDLES,
  userId: `user-${run}`,
  databaseName: `edgerec-react-${name}-${run}`,
});
const settle = () => new Promise((resolve) => setTimeout(resolve, DISPOSE_DELAY_MS * 3));
/** A call's failure, whether it throws at once (a disposed recommender does) or rejects. */
const outcome = (call: () => Promise<unknown>) => Promise.resolve().then(call);

afterAll(settle);

describe('shared recommenders (the React hooks, StrictMode-safe)', () => {
  it('mount, unmount, mount (StrictMode): one engine, alive, then disposed once after the last unmount', async () => {
    const first = acquireRecommender(options('strict'));
    first.release();
    const second = acquireRecommender(options('strict'));
    expect(second.recommender).toBe(first.recommender);
    expect(sharedRecommenderCount()).toBe(1);
    const recommender = await second.recommender;
    await settle();
    // Still held by the second mount: the first release did not dispose it.
    expect((await recommender.recommend({ k: 5 })).items).toHaveLength(5);

    second.release();
    second.release(); // a second release of one lease is a no-op, not a second dispose
    expect(sharedRecommenderCount()).toBe(1);
    await settle();
    expect(sharedRecommenderCount()).toBe(0);
    await expect(outcome(() => recommender.recommend({ k: 5 }))).rejects.toThrow(/disposed/);
  });

  it('components asking for the same options share one engine; other options get their own', async () => {
    const a = acquireRecommender(options('shared'));
    const b = acquireRecommender({ ...options('shared'), onProgress: () => {} });
    const c = acquireRecommender(options('other'));
    expect(b.recommender).toBe(a.recommender);
    expect(c.recommender).not.toBe(a.recommender);
    expect(sharedRecommenderCount()).toBe(2);
    const [ra, rc] = await Promise.all([a.recommender, c.recommender]);
    a.release();
    await settle();
    // b still holds the shared one.
    expect((await ra.recommend({ k: 3 })).items).toHaveLength(3);
    b.release();
    c.release();
    await settle();
    expect(sharedRecommenderCount()).toBe(0);
    await expect(outcome(() => rc.status())).rejects.toThrow(/disposed/);
  });

  it('a failed start is not kept: the next holder starts afresh', async () => {
    const bad = { ...options('bad'), bundleUrl: new URL('/no-such-bundles/', location.origin).href };
    const lease = acquireRecommender(bad);
    await expect(lease.recommender).rejects.toThrow();
    expect(sharedRecommenderCount()).toBe(0);
    lease.release();
  });
});
