/**
 * `edgerec/react` with the real React and react-dom under StrictMode (which mounts, unmounts and mounts
 * again): exactly one engine — one recommender in the registry, one engine worker in Chromium's target
 * list — renders real recommendations, and is gone after the root unmounts. No JSX: the browser project
 * compiles .ts tests only.
 */
import { createElement, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { describe, expect, it } from 'vitest';
import {
  DISPOSE_DELAY_MS,
  sharedRecommenderCount,
  useRecommendations,
  useRecommender,
} from '../../src/react/index.ts';
import type { RecommenderOptions } from '../../src/sdk/index.ts';
import { engineWorkersStartedFromNow, NONE } from './engine-workers.ts';

const BUNDLES = new URL('/test/generated/bundle/', location.origin).href;
const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
const options: RecommenderOptions = {
  bundleUrl: BUNDLES,
  userId: `user-${run}`,
  databaseName: `edgerec-react-strict-${run}`,
};

async function until(check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let effects = 0;
function Feed() {
  const rec = useRecommender(options);
  const { result, error } = useRecommendations({ k: 5 }, rec.recommender);
  if (rec.state === 'error' || error)
    return createElement('p', { role: 'alert' }, (rec.error ?? error)!.message);
  effects++;
  return createElement(
    'ul',
    null,
    (result?.items ?? []).map((item) => createElement('li', { key: item.itemId }, item.title)),
  );
}

describe('edgerec/react under StrictMode', () => {
  it('creates exactly one engine, renders its recommendations, and disposes it after unmount', async () => {
    const engineWorkers = await engineWorkersStartedFromNow();
    const host = document.body.appendChild(document.createElement('div'));
    const root = createRoot(host);
    root.render(createElement(StrictMode, null, createElement(Feed)));
    await until(
      () => host.querySelectorAll('li').length === 5 || host.querySelector('[role=alert]') !== null,
    );
    expect(host.querySelector('[role=alert]')?.textContent).toBeUndefined();
    // StrictMode rendered twice and ran the effects twice, yet one engine exists.
    expect(effects).toBeGreaterThan(1);
    expect(sharedRecommenderCount()).toBe(1);
    expect(await engineWorkers()).toEqual({ dedicated: 1, shared: 0 });

    root.unmount();
    await new Promise((resolve) => setTimeout(resolve, DISPOSE_DELAY_MS * 3));
    await until(() => sharedRecommenderCount() === 0);
    await until(async () => (await engineWorkers()).dedicated === 0, 10_000);
    expect(await engineWorkers()).toEqual(NONE);
    host.remove();
  });
});
