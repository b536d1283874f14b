import { InputError } from '../../core/errors.ts';
import type { Store } from '../store/types.ts';
import type { EncoderInput, UserEncoder } from './encoder.ts';

/** What the job needs of an encoder (a `UserEncoder`). */
export type RefreshEncoder = Pick<UserEncoder, 'dim' | 'maxLength' | 'input' | 'embed'>;

/** Pino's and the console's shape, so a Fastify logger or `console` can be passed as is. */
export interface RefreshLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface RefreshJobOptions {
  store: Store;
  encoder: RefreshEncoder;
  /** The bundle version whose item table the encoder's embeddings live in (see `matchLatestBundle`). */
  modelVersion: string;
  /** Minutes between the end of one scheduled pass and the start of the next (default 15). */
  intervalMinutes?: number;
  /** Stale users read, encoded and written per batch (default 256). */
  batchUsers?: number;
  /** The newest actions (non-impression events on known items) encoded per user (default the model's maxLength). */
  maxEvents?: number;
  /**
   * Most raw events read per user. Impressions do not count as actions, so reads widen (4 × maxEvents,
   * then doubling) until maxEvents actions are in hand, the user's whole history is read, or this cap
   * (default 4096) is reached.
   */
  maxReadEvents?: number;
  log?: RefreshLogger;
  /** Clock for `updatedAt` (ms since the epoch). */
  now?: () => number;
}

export interface RefreshResult {
  /** Users whose server embedding was written (emptyUsers included). */
  users: number;
  /** Raw events read for them. */
  events: number;
  /** Events left out because the model's item table does not hold their item. */
  skippedItems: number;
  /** Users written as zeros: no action on an item the model knows (training writes zeros for them too). */
  emptyUsers: number;
  batches: number;
  seconds: number;
}

interface UserRead extends EncoderInput {
  events: number;
  /** The newest seq among the events read; undefined when the user had none left. */
  eventSeq: number | undefined;
}

/**
 * Re-embeds users with new events using the global PinnerFormer, as Pinterest refreshes long-term user
 * embeddings on a cadence. A pass pages through `store.staleUsers` until no user it has not yet handled is
 * left: each user is handled at most once a pass (one whose events arrive mid-pass waits for the next), so a
 * pass always ends. Every stale user gets an embedding written, even one without a usable action (zeros,
 * what training's `longTermSnapshot` writes for an empty history): that advances its `eventSeq`, so it is
 * not re-read every pass and cannot crowd the oldest-first `staleUsers` page.
 */
export class RefreshJob {
  readonly store: Store;
  readonly encoder: RefreshEncoder;
  readonly modelVersion: string;
  readonly intervalMinutes: number;
  readonly batchUsers: number;
  readonly maxEvents: number;
  readonly maxReadEvents: number;

  // Metrics, plain fields for /metrics. Totals are since the job was made.
  passes = 0;
  failures = 0;
  usersRefreshed = 0;
  eventsRead = 0;
  skippedItems = 0;
  emptyUsers = 0;
  /** Seconds the last finished pass took, and the last batch's (read + encode + write). */
  lastDurationSeconds = 0;
  lastBatchSeconds = 0;
  lastBatchUsers = 0;
  /** When the last pass finished (ms since the epoch), 0 before any. */
  lastRunAt = 0;
  lastResult: RefreshResult | undefined;
  lastError: string | undefined;

  private readonly log?: RefreshLogger;
  private readonly now: () => number;
  private current: Promise<RefreshResult> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private scheduled = false;
  private stopping = false;

  constructor(options: RefreshJobOptions) {
    this.store = options.store;
    this.encoder = options.encoder;
    this.modelVersion = options.modelVersion;
    this.intervalMinutes = options.intervalMinutes ?? 15;
    this.batchUsers = options.batchUsers ?? 256;
    this.maxEvents = options.maxEvents ?? options.encoder.maxLength;
    this.maxReadEvents = options.maxReadEvents ?? Math.max(4096, this.maxEvents);
    this.log = options.log;
    this.now = options.now ?? Date.now;
    if (!this.modelVersion) throw new InputError('refresh job: modelVersion must name a bundle version');
    if (!(Number.isFinite(this.intervalMinutes) && this.intervalMinutes > 0)) {
      throw new InputError(
        `refresh job: intervalMinutes must be a positive number, got ${this.intervalMinutes}`,
      );
    }
    for (const [name, value] of Object.entries({
      batchUsers: this.batchUsers,
      maxEvents: this.maxEvents,
      maxReadEvents: this.maxReadEvents,
    })) {
      if (!(Number.isInteger(value) && value >= 1)) {
        throw new InputError(`refresh job: ${name} must be a positive integer, got ${value}`);
      }
    }
    if (this.maxReadEvents < this.maxEvents) {
      throw new InputError(
        `refresh job: maxReadEvents (${this.maxReadEvents}) must be at least maxEvents (${this.maxEvents})`,
      );
    }
  }

  /** Whether a pass is in progress. */
  get running(): boolean {
    return this.current !== undefined;
  }

  /** One pass over every stale user; a call during a pass joins it rather than starting another. */
  runOnce(): Promise<RefreshResult> {
    this.current ??= this.pass().finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  /** Runs a pass every `intervalMinutes` (the first one now when `immediate`); the timer does not keep Node alive. */
  start(options: { immediate?: boolean } = {}): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.schedule(options.immediate ? 0 : this.intervalMinutes * 60_000);
  }

  /** Cancels the schedule and resolves once a pass in progress has finished its current batch and ended. */
  async stop(): Promise<void> {
    this.scheduled = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    const current = this.current;
    if (!current) return;
    this.stopping = true;
    try {
      await current;
    } catch {
      // Already counted and reported by the pass.
    } finally {
      this.stopping = false;
    }
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runOnce()
        .catch(() => {}) // counted in `failures` and logged by the pass
        .finally(() => {
          if (this.scheduled) this.schedule(this.intervalMinutes * 60_000);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async pass(): Promise<RefreshResult> {
    const started = performance.now();
    const result: RefreshResult = {
      users: 0,
      events: 0,
      skippedItems: 0,
      emptyUsers: 0,
      batches: 0,
      seconds: 0,
    };
    const handled = new Set<string>();
    try {
      while (!this.stopping) {
        const stale = await this.store.staleUsers(this.batchUsers);
        const users = stale.map((u) => u.userId).filter((id) => !handled.has(id));
        if (users.length === 0) break;
        for (const id of users) handled.add(id);
        const batchStarted = performance.now();
        await this.refreshBatch(users, result);
        result.batches++;
        this.lastBatchSeconds = (performance.now() - batchStarted) / 1000;
        this.lastBatchUsers = users.length;
      }
    } catch (error) {
      this.failures++;
      this.lastError = (error as Error).message;
      this.log?.warn(`refresh: pass failed after ${result.users} users: ${this.lastError}`);
      throw error;
    } finally {
      result.seconds = (performance.now() - started) / 1000;
      this.usersRefreshed += result.users;
      this.eventsRead += result.events;
      this.skippedItems += result.skippedItems;
      this.emptyUsers += result.emptyUsers;
    }
    this.passes++;
    this.lastDurationSeconds = result.seconds;
    this.lastRunAt = this.now();
    this.lastResult = result;
    this.lastError = undefined;
    if (result.users > 0) {
      this.log?.info(
        `refresh: ${result.users} users re-embedded (${result.events} events read, ${result.skippedItems} on ` +
          `unknown items skipped, ${result.emptyUsers} without a usable action) in ${result.seconds.toFixed(2)} s`,
      );
    }
    return result;
  }

  private async refreshBatch(users: string[], result: RefreshResult): Promise<void> {
    const reads = await Promise.all(users.map((id) => this.read(id)));
    const vectors = this.encoder.embed(reads.map((r) => r.sequence));
    const { dim } = this.encoder;
    const updatedAt = this.now();
    await Promise.all(
      users.map(async (userId, n) => {
        const read = reads[n];
        // No events left (deleted since staleUsers listed the user): nothing to embed, and nothing stale.
        if (read.eventSeq === undefined) return;
        await this.store.putServerEmbedding(userId, {
          vector: Array.from(vectors.subarray(n * dim, (n + 1) * dim)),
          modelVersion: this.modelVersion,
          eventSeq: read.eventSeq,
          updatedAt,
        });
        result.users++;
        result.events += read.events;
        result.skippedItems += read.skippedItems;
        if (read.sequence.items.length === 0) result.emptyUsers++;
      }),
    );
  }

  /** A user's newest events, widening the read until `maxEvents` actions are in hand (or it can't grow). */
  private async read(userId: string): Promise<UserRead> {
    let limit = Math.min(this.maxReadEvents, this.maxEvents * 4);
    for (;;) {
      const events = await this.store.recentEventsOf(userId, limit);
      const input = this.encoder.input(events, this.maxEvents);
      const complete =
        input.sequence.items.length >= this.maxEvents || events.length < limit || limit >= this.maxReadEvents;
      if (complete) {
        let eventSeq: number | undefined;
        for (const e of events) if (eventSeq === undefined || e.seq > eventSeq) eventSeq = e.seq;
        return { ...input, events: events.length, eventSeq };
      }
      limit = Math.min(this.maxReadEvents, limit * 2);
    }
  }
}
