import type { Event } from '../../core/events.ts';
import { retryDelay } from './backoff.ts';
import {
  type EmbeddingContext,
  emptyUserState,
  pullServerEmbedding,
  pushDeviceEmbedding,
} from './embedding.ts';
import { isRetriableStatus, SyncHttp, SyncHttpError, SyncNetworkError } from './http.ts';
import { drainOutbox, ServerPrivacyError, SyncContractError } from './outbox.ts';
import {
  type DeviceEmbedding,
  type EmbeddingDetail,
  type EmbeddingOutcome,
  type SyncClock,
  type SyncMeta,
  type SyncPassResult,
  type SyncState,
  type SyncStatus,
  type SyncStorage,
  systemClock,
} from './types.ts';

export interface SyncClientOptions {
  storage: SyncStorage;
  serverUrl: string;
  /** Bearer token of `userId` (`createSession` makes one). Without one the client waits for `setToken`. */
  token?: string;
  userId: string;
  /** The bundle version the engine runs (server embeddings of other versions are not used). */
  modelVersion: () => string | undefined;
  /** The device-learned embedding now, or undefined when the user has no action yet. */
  deviceEmbedding: () => Promise<DeviceEmbedding | undefined>;
  /** Tests only: a stand-in for the global fetch. */
  fetch?: typeof fetch;
  /** Tests only: time, timers and the jitter's randomness. */
  clock?: SyncClock;
  /** Where `online` is listened for (default the global scope: the worker's, or the page's). */
  events?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
  /**
   * Web Locks name that serialises passes across tabs sharing the database (default none). Within one
   * client passes are always one at a time.
   */
  lockName?: string;
  /** Quiet time after `notifyRecorded` before uploading (default 500 ms)… */
  debounceMs?: number;
  /** …but no longer than this after the first unsent record (default 5 s). */
  maxWaitMs?: number;
  /** A request that takes longer is abandoned and retried as a network failure (default 30 s). */
  requestTimeoutMs?: number;
}

interface PassRequest {
  pull: boolean;
  explicit: boolean;
  promise?: Promise<SyncPassResult>;
}

/** The `meta` key of what the sync client keeps about `userId` (see SyncMeta). */
export const syncMetaKey = (userId: string) => `sync:${userId}`;
const metaKey = syncMetaKey;

function outcomeOf(detail: EmbeddingDetail): EmbeddingOutcome {
  const pulled = detail.server === 'adopted';
  const pushed = detail.device === 'pushed' || detail.device === 'pushed-after-conflict';
  if (pulled && pushed) return 'pulled+pushed';
  if (pulled) return 'pulled';
  if (pushed) return 'pushed';
  if (detail.device === 'conflict') return 'conflict';
  return 'unchanged';
}

/**
 * The client half of the sync server, for one user: drains the IndexedDB outbox to `POST /v1/events`,
 * pulls the server's long-term embedding and writes the device-learned one, and tells the server the
 * user's privacy setting. Privacy itself is decided when an event is stored (EngineStorage.appendEvent):
 * an event recorded in privacy mode is never in the outbox, so no pass of any tab can upload it.
 *
 * A pass runs after `notifyRecorded()` (debounced), on `sync()`, when the global scope fires `online`, at
 * `start()` (a reload resumes the outbox), and as the retry of a failed pass. Passes never overlap: a
 * request made while one runs joins the next. Everything needed to resume lives in IndexedDB: the outbox is
 * the events store, and `meta` (`sync:<userId>`) holds the device embedding's last known version.
 *
 * Failures: network errors, 5xx, 408 and 429 are retried with exponential backoff and full jitter (1 s
 * base, 60 s cap; never sooner than `Retry-After`); 401/403 stop everything until `setToken`; a 400/413
 * refusal is narrowed down to the event at fault, which is set aside (see `drainOutbox`); a refusal that
 * is not one event's fault stops automatic passes (`error`) until an explicit `sync()`.
 */
export class SyncClient {
  private readonly storage: SyncStorage;
  private readonly http: SyncHttp;
  private readonly clock: SyncClock;
  private readonly userId: string;
  /** The stored privacy flag as last read (a pass reads it again: another tab may have changed it). */
  private privacy = false;
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private readonly embeddings: EmbeddingContext;
  private readonly abort = new AbortController();
  private token: string | undefined;

  private state: SyncState = 'idle';
  private lastError?: string;
  private lastSyncAt?: number;
  private refusedEvents = 0;
  /** Consecutive failed passes: the backoff exponent. */
  private attempt = 0;
  private retryTimer?: unknown;
  private nextRetryAt?: number;
  private debounceTimer?: unknown;
  private debounceSince?: number;
  /** A contract mismatch: automatic passes stop; an explicit sync() tries again. */
  private halted = false;
  private pullWanted = true;
  private running?: Promise<SyncPassResult>;
  private queued?: PassRequest;
  private disposed = false;
  private readonly onOnline = () => this.online();

  constructor(private readonly options: SyncClientOptions) {
    this.storage = options.storage;
    this.clock = options.clock ?? systemClock;
    this.userId = options.userId;
    this.token = options.token || undefined;
    this.debounceMs = options.debounceMs ?? 500;
    this.maxWaitMs = options.maxWaitMs ?? 5000;
    this.http = new SyncHttp({
      serverUrl: options.serverUrl,
      token: () => this.token,
      now: () => this.clock.now(),
      fetch: options.fetch,
      timeoutMs: options.requestTimeoutMs,
    });
    this.embeddings = {
      storage: this.storage,
      http: this.http,
      userId: this.userId,
      signal: this.abort.signal,
      modelVersion: options.modelVersion,
      deviceEmbedding: options.deviceEmbedding,
      loadMeta: () => this.loadMeta(),
      saveMeta: (meta) => this.storage.setMeta(metaKey(this.userId), meta),
    };
    if (!this.token) this.unauthorized('no token: pass `token` (createSession(serverUrl) makes one)');
  }

  /** Listens for `online`, restores what IndexedDB says of the last sync, and starts a first pass. */
  async start(): Promise<void> {
    (this.options.events ?? globalThis).addEventListener?.('online', this.onOnline);
    this.lastSyncAt = (await this.loadMeta()).lastSyncAt;
    this.privacy = await this.storage.privacy(this.userId);
    if (this.state !== 'unauthorized') void this.request({ pull: true, explicit: false });
  }

  /** An event was appended: upload it soon, batched with whatever follows within the debounce. */
  notifyRecorded(): void {
    if (this.disposed || this.state === 'unauthorized' || this.halted) return;
    // A scheduled retry takes the new event along; recording must not cut the backoff short.
    if (this.retryTimer !== undefined) return;
    const now = this.clock.now();
    this.debounceSince ??= now;
    const wait = Math.max(0, Math.min(this.debounceMs, this.debounceSince + this.maxWaitMs - now));
    if (this.debounceTimer !== undefined) this.clock.clearTimeout(this.debounceTimer);
    this.debounceTimer = this.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      this.debounceSince = undefined;
      void this.request({ pull: false, explicit: false });
    }, wait);
  }

  /** A pass now (after the one in flight, if any): outbox, server embedding, device embedding. */
  sync(): Promise<SyncPassResult> {
    // This pass takes every recorded event along: a debounce still pending would only start another,
    // empty pass after it (and show 'uploading' to a caller who just saw the pass end).
    if (this.debounceTimer !== undefined) this.clock.clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
    this.debounceSince = undefined;
    return this.request({ pull: true, explicit: true });
  }

  /** The stored privacy flag changed (`EngineStorage.setPrivacy`): tell the server in a pass soon. */
  privacyChanged(on: boolean): void {
    this.privacy = on;
    if (this.disposed || this.state === 'unauthorized' || this.halted) return;
    void this.request({ pull: false, explicit: false });
  }

  /** A new token (after a 401, or a renewal): clears `unauthorized` and passes at once. */
  setToken(token: string): void {
    this.token = token || undefined;
    if (!this.token) {
      this.unauthorized('no token');
      return;
    }
    if (this.state === 'unauthorized') this.state = 'idle';
    this.halted = false;
    this.attempt = 0;
    void this.request({ pull: true, explicit: false });
  }

  status(): SyncStatus {
    return {
      state: this.state,
      privacy: this.privacy,
      ...(this.lastSyncAt !== undefined ? { lastSyncAt: this.lastSyncAt } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.nextRetryAt !== undefined ? { nextRetryAt: this.nextRetryAt } : {}),
      ...(this.refusedEvents > 0 ? { refusedEvents: this.refusedEvents } : {}),
    };
  }

  /** Stops timers and listeners, abandons the request in flight and waits for the pass to end. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    (this.options.events ?? globalThis).removeEventListener?.('online', this.onOnline);
    this.clearRetry();
    if (this.debounceTimer !== undefined) this.clock.clearTimeout(this.debounceTimer);
    this.debounceTimer = undefined;
    this.abort.abort();
    await this.running?.catch(() => {});
    await this.queued?.promise?.catch(() => {});
  }

  // ------------------------------------------------------------------------------------------ internals

  private online(): void {
    if (this.disposed || this.state === 'unauthorized' || this.halted) return;
    this.clearRetry();
    this.attempt = 0;
    void this.request({ pull: false, explicit: false });
  }

  /** Queues a pass after the running one; requests made before it starts share it. */
  private request(options: { pull: boolean; explicit: boolean }): Promise<SyncPassResult> {
    const queued = this.queued;
    if (queued?.promise) {
      queued.pull ||= options.pull;
      queued.explicit ||= options.explicit;
      return queued.promise;
    }
    const entry: PassRequest = { ...options };
    const prior = this.running ?? Promise.resolve();
    entry.promise = prior
      .catch(() => undefined)
      .then(() => {
        if (this.queued === entry) this.queued = undefined;
        const run = this.pass(entry);
        this.running = run;
        return run.finally(() => {
          if (this.running === run) this.running = undefined;
        });
      });
    this.queued = entry;
    return entry.promise;
  }

  private async pass(request: PassRequest): Promise<SyncPassResult> {
    const tally = { uploaded: 0, duplicates: 0, refused: 0, pending: 0 };
    let embedding: EmbeddingOutcome = 'unchanged';
    let detail: EmbeddingDetail | undefined;
    const finish = async (): Promise<SyncPassResult> => {
      if (!this.disposed) tally.pending = await this.storage.countUnsynced().catch(() => tally.pending);
      return { events: tally, embedding, ...(detail ? { embeddingDetail: detail } : {}), state: this.state };
    };
    this.pullWanted ||= request.pull;
    if (this.disposed) return finish();
    if (this.state === 'unauthorized') {
      embedding = 'unauthorized';
      return finish();
    }
    if (this.halted && !request.explicit) {
      embedding = 'error';
      return finish();
    }
    this.clearRetry();
    this.state = 'uploading';
    try {
      await this.locked(async () => {
        await this.events(tally);
        detail = { server: 'skipped', device: 'skipped' };
        if (this.pullWanted) {
          detail.server = await pullServerEmbedding(this.embeddings);
          this.pullWanted = false;
        }
        Object.assign(detail, await pushDeviceEmbedding(this.embeddings));
      });
      embedding = outcomeOf(detail!);
      this.attempt = 0;
      this.halted = false;
      this.lastSyncAt = this.clock.now();
      await this.storage.setMeta(metaKey(this.userId), {
        ...(await this.loadMeta()),
        lastSyncAt: this.lastSyncAt,
      });
      this.state = tally.refused > 0 ? 'error' : this.privacy ? 'privacy' : 'idle';
    } catch (error) {
      embedding = this.fail(error);
    }
    return finish();
  }

  /**
   * The events part of a pass: the server learns the user's privacy setting when it changed, then the
   * outbox is uploaded. In privacy mode the outbox holds none of this user's events (they were stored
   * local only), and nothing is posted.
   */
  private async events(tally: SyncPassResult['events']): Promise<void> {
    this.privacy = await this.storage.privacy(this.userId);
    const meta = await this.loadMeta();
    if (this.privacy !== (meta.privacyOnServer ?? false)) {
      // Turning privacy on also deletes what the server holds of this user's raw events.
      await this.http.request(
        'PUT',
        `/v1/users/${encodeURIComponent(this.userId)}/settings`,
        { privacy: this.privacy },
        this.abort.signal,
      );
      await this.saveMeta({ privacyOnServer: this.privacy });
    }
    if (this.privacy) return;
    try {
      await drainOutbox({
        storage: this.storage,
        http: this.http,
        userId: this.userId,
        signal: this.abort.signal,
        tally,
        onRefused: (event: Event, message: string) => {
          this.refusedEvents++;
          this.lastError = `event ${event.id} ${message}; it is set aside on the device and not sent again`;
        },
      });
    } catch (error) {
      if (!(error instanceof ServerPrivacyError)) throw error;
      // Another device turned privacy mode on for this user: this one adopts it (stored, for every tab),
      // which keeps its pending events on the device too.
      await this.storage.setPrivacy(this.userId, true, () => emptyUserState(this.userId));
      await this.saveMeta({ privacyOnServer: true });
      this.privacy = true;
      this.lastError = error.message;
    }
  }

  /** Merges `change` into the stored sync meta (read again: the embedding part of the pass writes it too). */
  private async saveMeta(change: Partial<SyncMeta>): Promise<void> {
    await this.storage.setMeta(metaKey(this.userId), { ...(await this.loadMeta()), ...change });
  }

  /** Sets the state a failure leads to, schedules the retry when there is one, and names the outcome. */
  private fail(error: unknown): EmbeddingOutcome {
    if (this.disposed) return 'offline';
    const message = (error as Error)?.message ?? String(error);
    if (error instanceof SyncNetworkError) {
      this.state = 'offline';
      this.lastError = message;
      this.scheduleRetry();
      return 'offline';
    }
    if (error instanceof SyncHttpError) {
      if (isRetriableStatus(error.status)) {
        this.state = 'backoff';
        this.lastError = message;
        this.scheduleRetry(error.retryAfterMs);
        return 'error';
      }
      if (error.status === 401 || error.status === 403) {
        this.unauthorized(message);
        return 'unauthorized';
      }
    }
    // A contract mismatch, an unexpected status, or a local failure: no automatic retry of the same thing.
    this.state = 'error';
    this.lastError = message;
    this.halted = error instanceof SyncContractError || error instanceof SyncHttpError;
    if (!this.halted) this.scheduleRetry();
    return 'error';
  }

  private unauthorized(message: string): void {
    this.state = 'unauthorized';
    this.lastError = message;
    this.clearRetry();
  }

  private scheduleRetry(retryAfterMs?: number): void {
    this.clearRetry();
    const delay = retryDelay(this.attempt, () => this.clock.random(), retryAfterMs);
    this.attempt++;
    this.nextRetryAt = this.clock.now() + delay;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.nextRetryAt = undefined;
      void this.request({ pull: false, explicit: false });
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.nextRetryAt = undefined;
  }

  private async loadMeta(): Promise<SyncMeta> {
    return (await this.storage.meta<SyncMeta>(metaKey(this.userId))) ?? { deviceVersion: 0 };
  }

  /** Runs `body` under the cross-tab Web Lock when there is one. */
  private async locked(body: () => Promise<void>): Promise<void> {
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
    const name = this.options.lockName;
    if (!name || !locks) return body();
    await locks.request(name, { signal: this.abort.signal }, body);
  }
}
