import type { Event } from '../../core/events.ts';
import { retryDelay } from './backoff.ts';
import { type EmbeddingContext, pullServerEmbedding, pushDeviceEmbedding } from './embedding.ts';
import { isRetriableStatus, SyncHttp, SyncHttpError, SyncNetworkError } from './http.ts';
import { drainOutbox, OUTBOX_BATCH, ServerPrivacyError, SyncContractError } from './outbox.ts';
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
  /** Privacy mode: raw events never leave the device; only the device embedding is written. */
  privacy?: boolean;
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

const metaKey = (userId: string) => `sync:${userId}`;

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
 * pulls the server's long-term embedding and writes the device-learned one, and (privacy mode) keeps raw
 * events on the device.
 *
 * A pass runs after `notifyRecorded()` (debounced), on `sync()`, when the global scope fires `online`, at
 * `start()` (a reload resumes the outbox), and as the retry of a failed pass. Passes never overlap: a
 * request made while one runs joins the next. Everything needed to resume lives in IndexedDB: the outbox is
 * the events store, and `meta` (`sync:<userId>`) holds the device embedding's last known version.
 *
 * Failures: network errors, 5xx, 408 and 429 are retried with exponential backoff and full jitter (1 s
 * base, 60 s cap; never sooner than `Retry-After`); 401/403 stop everything until `setToken`; a 400/413
 * refusal is narrowed down to the event at fault, which is taken out of the outbox (see `drainOutbox`); a
 * refusal that is not one event's fault stops automatic passes (`error`) until an explicit `sync()`.
 */
export class SyncClient {
  private readonly storage: SyncStorage;
  private readonly http: SyncHttp;
  private readonly clock: SyncClock;
  private readonly userId: string;
  private readonly privacy: boolean;
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
  /** The server said this user is in privacy mode (set from another device): events are not posted. */
  private serverPrivacy = false;
  private privacyApplied = false;
  private pullWanted = true;
  private running?: Promise<SyncPassResult>;
  private queued?: PassRequest;
  private disposed = false;
  private readonly onOnline = () => this.online();

  constructor(private readonly options: SyncClientOptions) {
    this.storage = options.storage;
    this.clock = options.clock ?? systemClock;
    this.userId = options.userId;
    this.privacy = options.privacy ?? false;
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
    return this.request({ pull: true, explicit: true });
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
    const privacy = this.privacy || this.serverPrivacy;
    return {
      state: this.state,
      privacy,
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
      this.state = tally.refused > 0 ? 'error' : this.privacy || this.serverPrivacy ? 'privacy' : 'idle';
    } catch (error) {
      embedding = this.fail(error);
    }
    return finish();
  }

  /** The events part of a pass: upload the outbox, or in privacy mode keep it on the device. */
  private async events(tally: SyncPassResult['events']): Promise<void> {
    if (this.privacy) {
      if (!this.privacyApplied) {
        // Turning privacy on also deletes what the server holds of this user's raw events.
        await this.http.request(
          'PUT',
          `/v1/users/${encodeURIComponent(this.userId)}/settings`,
          { privacy: true },
          this.abort.signal,
        );
        this.privacyApplied = true;
      }
      // Events recorded in privacy mode never leave the device, even if privacy mode is turned off later.
      for (;;) {
        const events = await this.storage.unsynced(OUTBOX_BATCH, this.userId);
        if (events.length === 0) break;
        await this.storage.markLocalOnly(
          events.map((e) => e.id),
          'recorded in privacy mode',
        );
      }
      return;
    }
    if (this.serverPrivacy) return;
    try {
      await drainOutbox({
        storage: this.storage,
        http: this.http,
        userId: this.userId,
        signal: this.abort.signal,
        tally,
        onRefused: (event: Event, message: string) => {
          this.refusedEvents++;
          this.lastError = `event ${event.id} ${message}; it stays on the device and is not sent again`;
        },
      });
    } catch (error) {
      if (!(error instanceof ServerPrivacyError)) throw error;
      // Another device turned privacy mode on: this one keeps its events (pending) and syncs the embedding.
      this.serverPrivacy = true;
      this.lastError = error.message;
    }
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
