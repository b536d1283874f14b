import { type EngineApi, engineIdentity, forwardCalls, type SharedEngineApi } from '../core/contract/api.ts';
import type { EngineOptions, EngineStatus, ProgressEvent } from '../core/contract/types.ts';
import { EdgerecError, InvalidOptionsError } from '../core/errors.ts';
import { relayProgress } from './progress-relay.ts';

/** What the host needs of an engine: the Engine class, or a test's stand-in at that boundary. */
export type HostedEngine = Omit<EngineApi, 'init'> & {
  init(options: EngineOptions, onProgress?: (p: ProgressEvent) => void): Promise<EngineStatus>;
};

interface Connection {
  dropped: boolean;
  onProgress?: (p: ProgressEvent) => void;
}

/**
 * One engine for many connections (the tabs of an origin, through a SharedWorker): the first `init`
 * starts it and the others attach to it (concurrent ones share the same start); each connection's
 * `dispose` — or the release of the Web Lock its page holds, when the page went away without disposing —
 * detaches it, and the last one disposes the engine and calls `onIdle` (the worker closes itself).
 */
export class SharedEngineHost {
  private engine?: HostedEngine;
  private starting?: Promise<EngineStatus>;
  private identity?: string;
  /** The dispose of the engine the last connection left: a newcomer starts a fresh one after it. */
  private closing?: Promise<void>;
  private readonly connections = new Set<Connection>();

  constructor(
    private readonly create: () => HostedEngine,
    private readonly onIdle: () => void,
    private readonly locks: LockManager | undefined = globalThis.navigator?.locks,
  ) {}

  /** Connections attached now. */
  get size(): number {
    return this.connections.size;
  }

  /** The API one connection (one MessagePort) is served. */
  connect(): SharedEngineApi {
    const connection: Connection = { dropped: false };
    this.connections.add(connection);
    const engine = async () => {
      if (connection.dropped) throw new EdgerecError('DISPOSED', 'this recommender was disposed');
      if (!this.starting || !this.engine)
        throw new EdgerecError('NOT_READY', 'the shared engine has not been started on this connection');
      await this.starting;
      return this.engine;
    };
    return {
      attach: async (lockName) => {
        // Granted only once the page lets go of its lock: on dispose, or when the page is gone.
        void this.locks?.request(lockName, () => this.drop(connection));
      },
      init: (options, onProgress) => this.init(connection, options, onProgress),
      ...forwardCalls(engine),
      status: async () => ({ ...(await (await engine()).status()), connections: this.connections.size }),
      dispose: () => this.drop(connection),
    };
  }

  private async init(
    connection: Connection,
    options: EngineOptions,
    onProgress?: (p: ProgressEvent) => void,
  ): Promise<EngineStatus> {
    if (connection.dropped) throw new EdgerecError('DISPOSED', 'this recommender was disposed');
    await this.closing;
    const identity = engineIdentity(options);
    if (this.identity !== undefined && identity !== this.identity)
      throw new InvalidOptionsError(
        `createRecommender: this shared engine runs ${this.identity}, not ${identity}`,
      );
    // Relayed, so that this connection's answer never overtakes the progress it was sent.
    return relayProgress(onProgress, (report) => this.attachToStart(connection, options, identity, report));
  }

  private async attachToStart(
    connection: Connection,
    options: EngineOptions,
    identity: string,
    onProgress: (p: ProgressEvent) => void,
  ): Promise<EngineStatus> {
    connection.onProgress = onProgress;
    if (!this.starting) {
      const engine = this.create();
      this.engine = engine;
      this.identity = identity;
      const starting = engine.init(options, (p) => this.progress(p));
      this.starting = starting;
      // A failed start leaves nothing behind: the next init (this tab's retry or another's) starts afresh.
      starting.catch(async () => {
        if (this.starting !== starting) return;
        this.starting = undefined;
        this.engine = undefined;
        this.identity = undefined;
        await engine.dispose().catch(() => {});
      });
    }
    try {
      await this.starting;
      return { ...(await this.engine!.status()), connections: this.connections.size };
    } finally {
      connection.onProgress = undefined;
    }
  }

  /** Every connection still waiting for the start hears its progress (through its relay). */
  private progress(event: ProgressEvent): void {
    for (const { onProgress } of this.connections) onProgress?.(event);
  }

  private async drop(connection: Connection): Promise<void> {
    if (connection.dropped) return;
    connection.dropped = true;
    this.connections.delete(connection);
    if (this.connections.size > 0) return;
    const engine = this.engine;
    this.engine = undefined;
    this.starting = undefined;
    this.identity = undefined;
    const closing = (async () => {
      await engine?.dispose().catch(() => {});
    })();
    this.closing = closing;
    await closing;
    if (this.closing === closing) this.closing = undefined;
    // Later than the reply to this dispose, and only if nobody attached meanwhile.
    setTimeout(() => {
      if (this.connections.size === 0 && !this.closing) this.onIdle();
    }, 0);
  }
}
