import type {
  ProgressEvent,
  Recommender,
  RecommenderOptions,
  RecommendRequest,
  RecommendResult,
} from '../sdk/index.ts';
import { acquireRecommender, recommenderKey } from './shared-recommender.ts';

/**
 * The part of React's API the hooks use, structurally: `createReactHooks(React)` binds them to the app's
 * own React (a peer dependency, never a second copy). Only hooks run here, so importing this module on a
 * server (SSR) touches no browser global; effects, which create the worker, never run there.
 */
export interface ReactHooksApi {
  /** React's `useState`. */
  useState<S>(initial: S | (() => S)): [S, (next: S | ((previous: S) => S)) => void];
  /** React's `useEffect`. */
  useEffect(effect: () => undefined | (() => void), deps?: readonly unknown[]): void;
  /** React's `useCallback`. */
  useCallback<F extends (...args: never[]) => unknown>(callback: F, deps: readonly unknown[]): F;
}

/** What `useRecommender` returns: loading (with progress), ready (with the recommender) or error. */
export type RecommenderState =
  | { state: 'loading'; recommender?: undefined; error?: undefined; progress?: ProgressEvent }
  | { state: 'ready'; recommender: Recommender; error?: undefined; progress?: ProgressEvent }
  | { state: 'error'; recommender?: undefined; error: Error; progress?: ProgressEvent };

/** What `useRecommendations` returns. */
export interface RecommendationsState {
  /** The last result; kept while a new one loads, so a feed does not flash empty. */
  result?: RecommendResult;
  loading: boolean;
  error?: Error;
  /** Asks again (after `record`, say); the result replaces the current one. */
  refresh(): void;
}

/** The hooks bound to the given React (`edgerec/react` exports them bound to the app's own `react`). */
export function createReactHooks(react: ReactHooksApi) {
  const { useState, useEffect, useCallback } = react;

  /**
   * The recommender for these options, shared by every component that asks for the same ones (one engine,
   * one worker) and disposed when the last of them unmounts. Safe under StrictMode's double mount.
   */
  function useRecommender(options: RecommenderOptions): RecommenderState {
    const [state, setState] = useState<RecommenderState>({ state: 'loading' });
    const key = recommenderKey(options);
    // The key stands for the options (a new object every render).
    useEffect(() => {
      let live = true;
      const lease = acquireRecommender({
        ...options,
        onProgress: (progress) => {
          options.onProgress?.(progress);
          if (live) setState((previous) => ({ ...previous, progress }));
        },
      });
      setState({ state: 'loading' });
      lease.recommender.then(
        (recommender) => live && setState({ state: 'ready', recommender }),
        (error: Error) => live && setState({ state: 'error', error }),
      );
      return () => {
        live = false;
        lease.release();
      };
    }, [key]);
    return state;
  }

  /** Recommendations from `recommender` (from `useRecommender`), asked again when the request changes. */
  function useRecommendations(
    request: RecommendRequest,
    recommender: Recommender | undefined,
  ): RecommendationsState {
    const [result, setResult] = useState<RecommendResult | undefined>(undefined);
    const [error, setError] = useState<Error | undefined>(undefined);
    const [loading, setLoading] = useState(false);
    const [round, setRound] = useState(0);
    const key = JSON.stringify(request);
    // The key stands for the request; round is bumped by refresh().
    useEffect(() => {
      if (!recommender) return undefined;
      let live = true;
      setLoading(true);
      recommender.recommend(request).then(
        (next) => {
          if (!live) return;
          setResult(next);
          setError(undefined);
          setLoading(false);
        },
        (failure: Error) => {
          if (!live) return;
          setError(failure);
          setLoading(false);
        },
      );
      return () => {
        live = false;
      };
    }, [recommender, key, round]);
    const refresh = useCallback(() => setRound((n) => n + 1), []);
    return { result, loading, error, refresh };
  }

  return { useRecommender, useRecommendations };
}
