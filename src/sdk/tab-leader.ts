import { proxy, type Remote, releaseProxy, wrap } from 'comlink';
import { type EngineApi, engineIdentity, type SharedEngineApi } from '../core/contract/api.ts';
import type { EngineOptions, EngineStatus, ProgressEvent } from '../core/contract/types.ts';
import { EdgerecError } from '../core/errors.ts';
import type { Event } from '../core/events.ts';
import { ChannelPeers, type Notice } from './broadcast-endpoint.ts';
import type { EngineConnection } from './engine-connection.ts';
import { startEngineWorker } from './engine-worker.ts';
import { LeaderService } from './leader-service.ts';
import { holdLock, type PageLock } from './page-lock.ts';

/** Every method of the engine's API, checked complete by the compiler. */
const METHODS: Record<keyof EngineApi, true> = {
  init: true,
  recommend: true,
  record: true,
  sync: true,
  setToken: true,
  status: true,
  setPrivacy: true,
  setAsideEvents: true,
  clearCache: true,
  cacheInfo: true,
  pruneCache: true,
  deleteLocalData: true,
  simulateDeviceLoss: true,
  learn: true,
  simulateLearningDeviceLoss: true,
  dispose: true,
};
type Method = keyof EngineApi;
type AnyCall = (...args: unknown[]) => Promise<unknown>;

/** Whom this recommender's calls go to now; `lost` settles once that leader has gone. */
interface Target {
  api: EngineApi;
  lost: Promise<void>;
}

/** The leader's own engine: its worker, and its start once asked for. */
interface Leading {
  worker: Worker;
  remote: Remote<EngineApi>;
  service: LeaderService;
  /** Starts the engine the first time; the same start afterwards. */
  start(): Promise<EngineStatus>;
}

/**
 * One engine per origin without SharedWorker: the recommenders with one engine identity queue for one
 * Web Lock; the holder (the leader) runs the engine in a dedicated worker of its own and serves the others
 * (followers) over a BroadcastChannel, comlink running on each pair (src/sdk/broadcast-endpoint.ts). The
 * lock is held for the leader's life: when its tab closes (or it disposes) the next in the queue becomes
 * leader, starts its engine from the cached bundle and announces itself, and every follower call still
 * unanswered is sent once more, to the new leader; a call that loses a second leader rejects LEADER_LOST.
 */
export async function connectLeader(options: EngineOptions): Promise<EngineConnection> {
  const member = new Member(options, await holdLock());
  return {
    remote: member.facade(),
    get scope() {
      return member.role;
    },
    errors: member.errors,
    ready: member.current().then(() => {}),
    close: () => member.close(),
  };
}

class Member {
  role: 'leader' | 'follower' = 'follower';
  /** Where the leader's worker reports a failure to load. */
  readonly errors = new EventTarget();
  private readonly identity: string;
  private readonly peers: ChannelPeers;
  private readonly queue = new AbortController();
  private releaseLeadership = () => {};
  private target?: Target;
  private endTarget = () => {};
  private retargeted = signal();
  private leaderId?: string;
  private leading?: Leading;
  private initCalled = false;
  /** This recommender's onProgress while its own init is pending. */
  private listening?: (event: ProgressEvent) => void;
  private closed = false;

  constructor(
    private readonly options: EngineOptions,
    private readonly lock: PageLock,
  ) {
    this.identity = engineIdentity(options);
    const name = `edgerec-leader:${this.identity}`;
    this.peers = new ChannelPeers(
      name,
      (notice) => this.hear(notice),
      (peer) => this.leading?.service.meet(peer),
    );
    navigator.locks
      .request(name, { signal: this.queue.signal }, () => {
        this.lead();
        return new Promise<void>((release) => {
          this.releaseLeadership = release;
        });
      })
      .catch(() => {});
    this.peers.broadcast({ kind: 'who' });
  }

  /** The API the recommender calls: each call goes to the leader of the moment, retried once on a handover. */
  facade(): EngineApi {
    const api = {} as Record<Method, AnyCall>;
    for (const method of Object.keys(METHODS) as Method[]) api[method] = (...args) => this.call(method, args);
    const own: Pick<EngineApi, 'init' | 'record' | 'dispose'> = {
      init: async (options, onProgress) => {
        this.initCalled = true;
        this.listening = onProgress;
        try {
          // Callbacks cannot cross a BroadcastChannel: progress comes back as notices (see `hear`).
          return await this.call<EngineStatus>('init', [options]);
        } finally {
          this.listening = undefined;
        }
      },
      // An id of its own before it leaves, so that a record sent twice (to a leader that left, then to the
      // next) is stored once: the engine skips an id it has logged.
      record: (event) => this.call<Event>('record', [{ ...event, id: event.id ?? crypto.randomUUID() }]),
      dispose: async () => {
        // Not retried: a leader that left has nothing of this recommender's left to free.
        const target = this.target;
        if (target) await Promise.race([target.api.dispose(), target.lost]);
      },
    };
    return Object.assign(api, own) as unknown as EngineApi;
  }

  /** The leader of the moment, once there is one. */
  async current(): Promise<Target> {
    while (!this.target) {
      if (this.closed) throw new EdgerecError('DISPOSED', 'this recommender was disposed');
      await this.retargeted.promise;
    }
    return this.target;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.leading?.service.close();
    this.peers.close();
    if (this.leading) {
      this.leading.remote[releaseProxy]();
      this.leading.worker.terminate();
    }
    this.queue.abort();
    this.releaseLeadership();
    this.lock.release();
    this.target = undefined;
    this.endTarget();
    this.retargeted.fire();
  }

  private async call<T>(method: Method, args: unknown[]): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const target = await this.current();
      const pending = (target.api[method] as AnyCall)(...args);
      const outcome = await Promise.race([pending.then((value) => ({ value })), target.lost]);
      if (outcome) return outcome.value as T;
      pending.catch(() => {});
      if (attempt >= 1)
        throw new EdgerecError(
          'LEADER_LOST',
          `${method}: the tab running the shared engine closed, and then its successor too, during the call`,
        );
    }
  }

  private hear(notice: Notice): void {
    if (notice.kind === 'who' && this.leading) this.peers.broadcast({ kind: 'leader' });
    else if (notice.kind === 'leader' && !this.leading && notice.from !== this.leaderId)
      this.follow(notice.from);
    else if (notice.kind === 'progress' && notice.from === this.leaderId)
      this.listening?.(notice.event as ProgressEvent);
  }

  private follow(leader: string): void {
    if (this.leaderId) this.peers.endpoint(this.leaderId).close();
    this.leaderId = leader;
    const remote = wrap<SharedEngineApi>(this.peers.endpoint(leader));
    // The leader counts this recommender, and drops it when this page's lock is released.
    if (this.lock.name) remote.attach(this.lock.name).catch(() => {});
    this.retarget(remote as unknown as EngineApi);
  }

  private lead(): void {
    if (this.closed) return;
    this.role = 'leader';
    if (this.leaderId) this.peers.endpoint(this.leaderId).close();
    this.leaderId = undefined;
    const worker = startEngineWorker();
    // A worker that fails to load never answers: its start fails instead (a takeover has no other witness).
    const failed = new Promise<never>((_, reject) =>
      worker.addEventListener('error', (event) => {
        this.errors.dispatchEvent(new ErrorEvent('error', { message: event.message }));
        reject(
          new EdgerecError(
            'WORKER_FAILED',
            `the edgerec worker failed to start: ${event.message || 'it could not be loaded'}`,
          ),
        );
      }),
    );
    failed.catch(() => {});
    const remote = wrap<EngineApi>(worker);
    let begin!: (status: Promise<EngineStatus>) => void;
    const started = new Promise<EngineStatus>((resolve) => {
      begin = resolve;
    });
    started.catch(() => {});
    const leading: Leading = {
      worker,
      remote,
      service: new LeaderService(this.peers, this.identity, async () => {
        await started;
        return remote as unknown as EngineApi;
      }),
      start: () => {
        begin(
          Promise.race([
            remote.init(
              this.options,
              proxy((event: ProgressEvent) => {
                this.listening?.(event);
                this.peers.broadcast({ kind: 'progress', event });
              }),
            ),
            failed,
          ]),
        );
        leading.start = () => started;
        return started;
      },
    };
    this.leading = leading;
    // A takeover: this recommender was already started (as a follower), so the engine starts at once,
    // from the bundle the old leader cached; a first leader starts when its own init asks.
    if (this.initCalled) leading.start();
    const own = {} as Record<Method, AnyCall>;
    for (const method of Object.keys(METHODS) as Method[])
      own[method] = async (...args) => {
        await started;
        return (remote[method] as unknown as AnyCall)(...args);
      };
    own.init = () => leading.start();
    own.status = async () => {
      await started;
      return { ...(await remote.status()), connections: leading.service.connections };
    };
    own.dispose = async () => {
      // Followers get no answer from a leaving leader: they resend to the next one.
      leading.service.close();
      this.peers.close();
      await remote.dispose();
    };
    this.retarget(own as unknown as EngineApi);
    this.peers.broadcast({ kind: 'leader' });
  }

  private retarget(api: EngineApi): void {
    this.endTarget();
    const lost = new Promise<void>((resolve) => {
      this.endTarget = resolve;
    });
    this.target = { api, lost };
    this.retargeted.fire();
    this.retargeted = signal();
  }
}

/** A promise to wait on and the function that settles it. */
function signal() {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}
