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
  /**
   * React's `useCallback`.
   * @typeParam F The callback's own type, returned unchanged.
   */
  useCallback<F extends (...args: never[]) => unknown>(callback: F, deps: readonly unknown[]): F;
}

/** The two hooks, bound to one React: what `createReactHooks` returns. */
export interface ReactHooks {
  /**
   * The recommender for these options, shared by every component that asks for the same ones (one engine,
   * one worker) and disposed when the last of them unmounts. Safe under StrictMode's double mount.
   */
  useRecommender(options: RecommenderOptions): RecommenderState;
  /** Recommendations from `recommender` (from `useRecommender`), asked again when the request changes. */
  useRecommendations(request: RecommendRequest, recommender: Recommender | undefined): RecommendationsState;
}

/** What `useRecommender` returns: loading (with progress), ready (with the recommender) or error. */
export type RecommenderState = RecommenderLoading | RecommenderReady | RecommenderFailed;

/** `useRecommender` while the engine starts (also what a server renders: effects never run there). */
export interface RecommenderLoading {
  /** The engine is starting: downloading, verifying, compiling or warming up. */
  state: 'loading';
  /** Not there yet. */
  recommender?: undefined;
  /** No failure (so far). */
  error?: undefined;
  /** The start's latest progress event, once there is one. */
  progress?: ProgressEvent;
}

/** `useRecommender` once the engine answers. */
export interface RecommenderReady {
  /** The engine has started: `recommender` answers. */
  state: 'ready';
  /** The shared recommender for these options; do not dispose it (the hook does, after the last unmount). */
  recommender: Recommender;
  /** No failure. */
  error?: undefined;
  /** The start's last progress event (`ready`). */
  progress?: ProgressEvent;
}

/** `useRecommender` after the start failed. */
export interface RecommenderFailed {
  /** The start failed: see `error`. */
  state: 'error';
  /** None: the start failed (a later mount with the same options tries again). */
  recommender?: undefined;
  /** Why the start failed: an `EdgerecError`, whose `code` says what to do. */
  error: Error;
  /** The start's last progress event before it failed. */
  progress?: ProgressEvent;
}

/** What `useRecommendations` returns. */
export interface RecommendationsState {
  /** The last result; kept while a new one loads, so a feed does not flash empty. */
  result?: RecommendResult;
  /** Whether a request is in flight (the first one, a changed request or a `refresh`). */
  loading: boolean;
  /** Why the latest request failed; cleared by the next one that succeeds. */
  error?: Error;
  /** Asks again (after `record`, say); the result replaces the current one. */
  refresh(): void;
}

/** The hooks bound to the given React (`edgerec/react` exports them bound to the app's own `react`). */
export function createReactHooks(react: ReactHooksApi): ReactHooks {
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
