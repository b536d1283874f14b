import { type Endpoint, type Remote, releaseProxy, wrap } from 'comlink';
import { type EngineApi, engineIdentity, type SharedEngineApi } from '../core/contract/api.ts';
import type { EngineOptions, EngineScope } from '../core/contract/types.ts';

/** The page's end of an engine: the remote API, and how to let go of it once the engine is disposed. */
export interface EngineConnection {
  remote: Remote<EngineApi>;
  scope: EngineScope;
  /** Where a failure to load the worker script is reported. */
  errors: EventTarget;
  /** Settles once the connection is set up on the worker's side (raced, like init, with `errors`). */
  ready: Promise<void>;
  /** After `remote.dispose()` (or instead of it, when the worker never loaded): frees this page's side. */
  close(): void;
}

/**
 * A connection to the shared engine for these options' identity when `shared` is asked for and the
 * browser has SharedWorker; otherwise a dedicated Web Worker of this recommender's own (or the one given).
 */
export async function connectEngine(
  options: EngineOptions,
  shared: boolean,
  given: Worker | undefined,
): Promise<EngineConnection> {
  if (shared && !given && typeof SharedWorker === 'function') return connectShared(options);
  const worker =
    given ??
    new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), {
      type: 'module',
      name: 'edgerec',
    });
  const remote = wrap<EngineApi>(worker);
  return {
    remote,
    scope: 'dedicated',
    errors: worker,
    ready: Promise.resolve(),
    close() {
      remote[releaseProxy]();
      if (!given) worker.terminate();
    },
  };
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
    remote,
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

/**
 * Takes a Web Lock of this connection's own and holds it until released: the browser releases it when
 * the page goes away, which tells the shared engine to drop a connection that never disposed. Without
 * Web Locks (rare) such a connection lasts until the worker itself ends with its last page.
 */
async function holdLock(): Promise<{ name?: string; release(): void }> {
  const locks = globalThis.navigator?.locks;
  if (!locks) return { release: () => {} };
  const name = `edgerec-connection:${crypto.randomUUID()}`;
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  await new Promise<void>((granted) => {
    void locks.request(name, () => {
      granted();
      return held;
    });
  });
  return { name, release };
}
