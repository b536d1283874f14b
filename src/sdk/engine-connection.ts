import { type Endpoint, releaseProxy, wrap } from 'comlink';
import { type EngineApi, engineIdentity, type SharedEngineApi } from '../core/contract/api.ts';
import type { EngineOptions, EngineScope } from '../core/contract/types.ts';
import { startEngineWorker } from './engine-worker.ts';
import { holdLock } from './page-lock.ts';

/** The page's end of an engine: the remote API, and how to let go of it once the engine is disposed. */
export interface EngineConnection {
  remote: EngineApi;
  /** Read at each `status()`: a follower becomes the leader when the leader's tab closes. */
  readonly scope: EngineScope;
  /** Where a failure to load the worker script is reported. */
  errors: EventTarget;
  /** Settles once the connection is set up on the worker's side (raced, like init, with `errors`). */
  ready: Promise<void>;
  /** After `remote.dispose()` (or instead of it, when the worker never loaded): frees this page's side. */
  close(): void;
}

/**
 * A connection to the one engine for these options' identity when `shared` is asked for: in a
 * SharedWorker where the browser has one, else in a leader tab's worker (Web Locks + BroadcastChannel);
 * otherwise a dedicated Web Worker of this recommender's own (or the one given).
 */
export async function connectEngine(
  options: EngineOptions,
  shared: boolean,
  given: Worker | undefined,
): Promise<EngineConnection> {
  if (shared && !given && typeof SharedWorker === 'function') return connectShared(options);
  if (shared && !given && canElectLeader()) {
    // Loaded only where it is needed (no SharedWorker: Chrome on Android), so other pages do not ship it.
    const { connectLeader } = await import('./tab-leader.ts');
    return connectLeader(options);
  }
  const worker = given ?? startEngineWorker();
  const remote = wrap<EngineApi>(worker);
  return {
    remote: remote as unknown as EngineApi,
    scope: 'dedicated',
    errors: worker,
    ready: Promise.resolve(),
    close() {
      remote[releaseProxy]();
      if (!given) worker.terminate();
    },
  };
}

/** Whether tabs can elect a leader here (src/sdk/tab-leader.ts): Web Locks and BroadcastChannel. */
function canElectLeader(): boolean {
  return typeof BroadcastChannel === 'function' && !!globalThis.navigator?.locks;
}

async function connectShared(options: EngineOptions): Promise<EngineConnection> {
  // Same script and name: the browser hands every page of the origin the same worker.
  const worker = new SharedWorker(new URL('../../workers/engine.worker.ts', import.meta.url), {
    type: 'module',
    name: `edgerec:${engineIdentity(options)}`,
  });
  const port = worker.port;
  const remote = wrap<SharedEngineApi>(port as Endpoint);
  port.start();
  const lock = await holdLock();
  return {
    remote: remote as unknown as EngineApi,
    scope: 'shared',
    errors: worker,
    ready: lock.name ? remote.attach(lock.name) : Promise.resolve(),
    close() {
      remote[releaseProxy]();
      port.close();
      lock.release();
    },
  };
}
