import type { Endpoint } from 'comlink';

/** A comlink message from one member of the channel to another (the only kind with `to`). */
interface Letter {
  kind: 'rpc';
  from: string;
  to: string;
  data: unknown;
}

/** Anything else on the channel: heard by every member (announcements, progress). */
export interface Notice {
  kind: string;
  from: string;
  [field: string]: unknown;
}

/** The comlink endpoint of one peer, and how to stop hearing it. */
export interface PeerEndpoint extends Endpoint {
  close(): void;
}

/**
 * Point-to-point comlink endpoints over one BroadcastChannel. A channel is many-to-many and every member
 * hears every message, so each member has an id, each comlink message goes in a letter addressed from
 * one id to another, and each member hands a peer's letters to that peer's endpoint only: comlink then
 * runs unchanged, one `wrap` or `expose` per pair. A BroadcastChannel cannot transfer, so neither can
 * these endpoints (no `proxy()` callbacks across it: plain, structured-cloneable data only).
 */
export class ChannelPeers {
  readonly id = crypto.randomUUID();
  private readonly channel: BroadcastChannel;
  private readonly peers = new Map<string, EventTarget>();
  private closed = false;

  /**
   * @param onNotice every notice another member broadcasts
   * @param onStranger a letter from a peer without an endpoint here yet (a leader meeting a follower): it
   *   may call `endpoint(peer)` to take the letter, which is delivered right after
   */
  constructor(
    name: string,
    private readonly onNotice: (notice: Notice) => void,
    private readonly onStranger: (peer: string) => void = () => {},
  ) {
    this.channel = new BroadcastChannel(name);
    this.channel.onmessage = (event: MessageEvent<Letter | Notice>) => this.receive(event.data);
  }

  /** Tells every other member. */
  broadcast(notice: Omit<Notice, 'from'>): void {
    if (!this.closed) this.channel.postMessage({ ...notice, from: this.id });
  }

  /** The endpoint that talks to `peer` (the same one until `close`d). */
  endpoint(peer: string): PeerEndpoint {
    const existing = this.peers.get(peer);
    if (existing) return existing as unknown as PeerEndpoint;
    const target = new EventTarget();
    const endpoint = Object.assign(target, {
      postMessage: (data: unknown, transfer?: Transferable[]) => {
        if (transfer?.length) throw new Error('edgerec: nothing can be transferred over a BroadcastChannel');
        if (this.peers.get(peer) === target)
          this.channel.postMessage({ kind: 'rpc', from: this.id, to: peer, data });
      },
      // Closed: it neither sends nor hears; comlink calls pending on it never settle (callers race them).
      close: () => {
        if (this.peers.get(peer) === target) this.peers.delete(peer);
      },
    });
    this.peers.set(peer, target);
    return endpoint;
  }

  /** Stops hearing and sending: every endpoint is closed. */
  close(): void {
    this.closed = true;
    this.peers.clear();
    this.channel.close();
  }

  private receive(message: Letter | Notice): void {
    if (message.kind !== 'rpc') {
      this.onNotice(message as Notice);
      return;
    }
    const letter = message as Letter;
    if (letter.to !== this.id) return;
    if (!this.peers.has(letter.from)) this.onStranger(letter.from);
    this.peers.get(letter.from)?.dispatchEvent(new MessageEvent('message', { data: letter.data }));
  }
}
