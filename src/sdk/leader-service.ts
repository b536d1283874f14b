import { expose } from 'comlink';
import { type EngineApi, engineIdentity, forwardCalls, type SharedEngineApi } from '../core/contract/api.ts';
import type { EngineStatus } from '../core/contract/types.ts';
import { EdgerecError, InvalidOptionsError } from '../core/errors.ts';
import type { ChannelPeers } from './broadcast-endpoint.ts';

/**
 * What the leader tab serves the other tabs (followers): each follower that writes gets a comlink
 * `expose` of its own over the channel, forwarding to the engine in the leader's worker once that has
 * started. A follower counts from its `attach` until it disposes or the Web Lock its page holds is
 * released (the tab closed without disposing), the same bookkeeping as the shared worker's.
 */
export class LeaderService {
  private readonly followers = new Set<string>();
  private readonly dropped = new Set<string>();
  private readonly stop = new AbortController();

  /** @param engine the leader's engine once started (rejects as its start does) */
  constructor(
    private readonly peers: ChannelPeers,
    private readonly identity: string,
    private readonly engine: () => Promise<EngineApi>,
  ) {}

  /** Recommenders on this engine: the leader's own and the followers attached. */
  get connections(): number {
    return 1 + this.followers.size;
  }

  /** Serves `peer` from now on: called for the first letter of a follower this leader has not met. */
  meet(peer: string): void {
    expose(this.api(peer), this.peers.endpoint(peer));
  }

  /** Serves nobody any more (the leader is leaving): followers will retry with the next leader. */
  close(): void {
    this.stop.abort();
    this.followers.clear();
  }

  private api(peer: string): SharedEngineApi {
    const engine = async () => {
      if (this.dropped.has(peer)) throw new EdgerecError('DISPOSED', 'this recommender was disposed');
      return this.engine();
    };
    const status = async (): Promise<EngineStatus> => ({
      ...(await (await engine()).status()),
      connections: this.connections,
    });
    return {
      attach: async (lockName) => {
        if (this.dropped.has(peer) || this.stop.signal.aborted) return;
        this.followers.add(peer);
        // Granted once the follower's page lets go: on its dispose, or when the page is gone.
        navigator.locks
          .request(lockName, { signal: this.stop.signal }, () => this.drop(peer))
          .catch(() => {});
      },
      init: async (options) => {
        const identity = engineIdentity(options);
        if (identity !== this.identity)
          throw new InvalidOptionsError(
            `createRecommender: this tab's engine runs ${this.identity}, not ${identity}`,
          );
        return status();
      },
      ...forwardCalls(engine),
      status,
      dispose: async () => this.drop(peer),
    };
  }

  private drop(peer: string): void {
    this.dropped.add(peer);
    this.followers.delete(peer);
    // After comlink has answered this dispose on the endpoint.
    setTimeout(() => this.peers.endpoint(peer).close(), 0);
  }
}
