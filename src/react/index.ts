/**
 * `edgerec/react`: the hooks bound to the app's React (a peer dependency: this module imports `react`, never
 * a copy of its own). Importing it on a server touches no browser global; the engine starts in an effect.
 */
import * as React from 'react';
import { createReactHooks } from './hooks.ts';

export {
  createReactHooks,
  type ReactHooks,
  type ReactHooksApi,
  type RecommendationsState,
  type RecommenderFailed,
  type RecommenderLoading,
  type RecommenderReady,
  type RecommenderState,
} from './hooks.ts';
export { DISPOSE_DELAY_MS, sharedRecommenderCount } from './shared-recommender.ts';

const hooks = createReactHooks(React);

/**
 * The recommender for these options, shared by every component that passes the same ones (one engine, one
 * worker), disposed 50 ms after the last of them unmounts: StrictMode's double mount creates one engine.
 */
export const useRecommender = hooks.useRecommender;
/** Recommendations from a recommender (from `useRecommender`), asked again when the request changes. */
export const useRecommendations = hooks.useRecommendations;
