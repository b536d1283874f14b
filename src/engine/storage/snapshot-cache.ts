import type { Event } from '../../core/events.ts';
import type { UserState } from './schema.ts';

/** What recommend() reads before it encodes: the user's stored state and newest events, oldest first. */
export interface UserSnapshot {
  user: UserState | undefined;
  events: Event[];
}

interface Entry {
  limit: number;
  snapshot: UserSnapshot;
}

/**
 * The users' snapshots of one database, kept in the worker's memory so that recommend() skips IndexedDB
 * (a read transaction is a round trip to the browser process: most of the encode stage, and its tail).
 *
 * Every write to the `users` or `events` store of this storage ends with `written()`, which empties the
 * cache and tells the other connections to the same database — other tabs' engines, in their own workers —
 * through a BroadcastChannel, whose message empties theirs. A read stores its result only when no write
 * was seen since it began (`begin()`'s generation), so a read racing a write never caches the old state.
 * A write in another tab reaches this cache when its message arrives, a few milliseconds after its commit;
 * with the SDK's shared worker every tab runs in one engine, and nothing lags.
 */
export class SnapshotCache {
  private generation = 0;
  private readonly entries = new Map<string, Entry>();
  private channel?: BroadcastChannel;
  private closed = false;

  constructor(private readonly channelName: string) {}

  /** The cached snapshot of `userId` holding at least its `limit` newest events (a copy of the array). */
  get(userId: string, limit: number): UserSnapshot | undefined {
    this.listen();
    const entry = this.entries.get(userId);
    if (!entry || entry.limit !== limit) return undefined;
    return { user: entry.snapshot.user, events: entry.snapshot.events.slice() };
  }

  /** The generation a read starts at: pass it to `put`. */
  begin(): number {
    this.listen();
    return this.generation;
  }

  /** Stores what a read that began at `generation` found, unless a write was seen since. */
  put(generation: number, userId: string, limit: number, snapshot: UserSnapshot): void {
    if (generation !== this.generation) return;
    this.entries.set(userId, { limit, snapshot: { user: snapshot.user, events: snapshot.events.slice() } });
  }

  /**
   * A write to `users` or `events` committed (or failed) here: everything cached may be stale, here and in
   * the other connections.
   */
  written(): void {
    this.invalidate();
    this.listen();
    this.channel?.postMessage('written');
  }

  /**
   * An event appended by this storage, with the user's state it stored, when that was the only write since
   * `generation` (taken before the write; its own `written()` is the one step): the snapshot cached before
   * it, advanced by the event, is the stored state — recording and then recommending reads nothing back.
   */
  appended(generation: number, before: Entry | undefined, event: Event, user: UserState | undefined): void {
    if (!before || this.generation !== generation + 1) return;
    const events = before.snapshot.events.slice();
    // The store's order: (ts, id) ascending, as its by-user-ts index and primary key sort.
    let at = events.length;
    while (at > 0 && follows(events[at - 1], event)) at--;
    events.splice(at, 0, event);
    if (events.length > before.limit) events.splice(0, events.length - before.limit);
    this.entries.set(event.userId, { limit: before.limit, snapshot: { user, events } });
  }

  /**
   * A user's state replaced by this storage (on-device learning's embedding, a pulled one), when that was
   * the only write since `generation`: the snapshot cached before it, with the new state, is what is stored —
   * so the recommend() after a learning run reads nothing back either.
   */
  updated(generation: number, before: Entry | undefined, user: UserState): void {
    if (!before || this.generation !== generation + 1) return;
    this.entries.set(user.userId, {
      limit: before.limit,
      snapshot: { user, events: before.snapshot.events },
    });
  }

  /** The entry of `userId` as it stands (for `appended` and `updated`). */
  peek(userId: string): Entry | undefined {
    return this.entries.get(userId);
  }

  close(): void {
    this.closed = true;
    this.invalidate();
    this.channel?.close();
    this.channel = undefined;
  }

  private invalidate(): void {
    this.generation++;
    this.entries.clear();
  }

  private listen(): void {
    if (this.channel || this.closed || typeof BroadcastChannel !== 'function') return;
    this.channel = new BroadcastChannel(this.channelName);
    this.channel.onmessage = () => this.invalidate();
    // Node (the unit tests' fake IndexedDB) would otherwise keep its event loop alive for the channel.
    (this.channel as { unref?: () => void }).unref?.();
  }
}

/** Whether `a` sorts after `b` in the event store's (ts, id) order. */
function follows(a: Event, b: Event): boolean {
  return a.ts > b.ts || (a.ts === b.ts && a.id > b.id);
}
