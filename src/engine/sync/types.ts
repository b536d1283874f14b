import type { Event } from '../../core/events.ts';
import type { UserState } from '../storage/index.ts';

/**
 * Where the sync client stands:
 * - `idle`: the last pass went through; `privacy` is the same in privacy mode (events stay on the device).
 * - `uploading`: a pass (events and/or embeddings) is in flight.
 * - `backoff`: the server answered 5xx, 408 or 429; a retry is scheduled at `nextRetryAt`.
 * - `offline`: the server could not be reached; a retry is scheduled, and the `online` event retries at once.
 * - `unauthorized`: 401 (or 403: the token is another user's); nothing is sent until `setToken`.
 * - `error`: the server refused events (set aside: see the engine status' `setAsideEvents`), or a contract
 *   mismatch or an unexpected failure stopped the pass. See `lastError`.
 * - `disabled`: no `serverUrl`: the engine runs on its own.
 */
export type SyncState =
  | 'idle'
  | 'uploading'
  | 'backoff'
  | 'offline'
  | 'unauthorized'
  | 'error'
  | 'disabled'
  | 'privacy';

export interface SyncStatus {
  state: SyncState;
  /**
   * Whether privacy mode is on for this user (the stored, shared flag): events recorded meanwhile never
   * leave the device, only the embedding is synced.
   */
  privacy: boolean;
  /** When the last pass that reached the server without error ended (ms since the epoch). */
  lastSyncAt?: number;
  /** The last error, in words (kept after recovery, until a later error replaces it). */
  lastError?: string;
  /** When the scheduled retry will run (ms since the epoch), in `backoff` and `offline`. */
  nextRetryAt?: number;
  /** Events set aside this session (refused by the server, or in conflict): kept on the device, never sent again. */
  refusedEvents?: number;
}

/** What happened to the embeddings in one pass, in one word. */
export type EmbeddingOutcome =
  | 'pulled'
  | 'pushed'
  | 'pulled+pushed'
  | 'unchanged'
  | 'conflict'
  | 'offline'
  | 'unauthorized'
  | 'error'
  | 'disabled';

export interface EmbeddingDetail {
  /**
   * The server's long-term embedding: `adopted` (stored as the user's longTerm), `unchanged` (already
   * held), `other-version` (computed for another bundle version than the one running: not used), `none`
   * (the server has none yet), `skipped` (not asked this pass).
   */
  server: 'adopted' | 'unchanged' | 'other-version' | 'none' | 'skipped';
  /**
   * The device-learned embedding: `pushed`, `pushed-after-conflict` (a 409 named a newer version; this
   * device adopted it as its base and wrote again), `unchanged` (same as last written), `conflict` (a
   * second 409 in a row: left for the next pass), `none` (no local action to embed yet), `skipped`.
   */
  device: 'pushed' | 'pushed-after-conflict' | 'unchanged' | 'conflict' | 'none' | 'skipped';
  /** The device embedding version on the server after this pass, when known. */
  deviceVersion?: number;
}

/** What one pass did; `sync()` returns it (with the bundle's part added by the engine). */
export interface SyncPassResult {
  events: {
    /** Events the server newly stored during this pass. */
    uploaded: number;
    /** Events this pass sent that the server already had (they count as synced). */
    duplicates: number;
    /** Events set aside during this pass: refused by the server alone, or in conflict with a stored one. */
    refused: number;
    /** Events still waiting in the outbox after this pass. */
    pending: number;
  };
  embedding: EmbeddingOutcome;
  embeddingDetail?: EmbeddingDetail;
  state: SyncState;
}

/** The part of EngineStorage the sync client uses (an in-memory one stands in for it in unit tests). */
export interface SyncStorage {
  unsynced(limit: number, userId?: string): Promise<Event[]>;
  countUnsynced(): Promise<number>;
  markSynced(ids: readonly string[]): Promise<number>;
  markLocalOnly(ids: readonly string[], reason: string): Promise<number>;
  markSetAside(ids: readonly string[], reason: string): Promise<number>;
  /** The user's stored privacy flag, shared by every tab. */
  privacy(userId: string): Promise<boolean>;
  /** Sets the flag; turning it on takes the user's pending events out of the outbox (see EngineStorage). */
  setPrivacy(userId: string, on: boolean, emptyState: () => UserState): Promise<number>;
  meta<T = unknown>(key: string): Promise<T | undefined>;
  setMeta(key: string, value: unknown): Promise<void>;
  userState(userId: string): Promise<UserState | undefined>;
  updateUserState(userId: string, change: (current: UserState | undefined) => UserState): Promise<UserState>;
}

/** Time, timers and randomness, injectable so backoff can be tested without waiting. */
export interface SyncClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Uniform in [0, 1): the jitter. */
  random(): number;
}

export const systemClock: SyncClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
};

/** The device-learned embedding as the engine computes it now, or undefined when there is none yet. */
export interface DeviceEmbedding {
  vector: number[];
  /** The bundle version whose item table the vector lives in. */
  modelVersion: string;
}

/** What the client keeps in `meta` per user (key `sync:<userId>`), so a reload resumes where it stopped. */
export interface SyncMeta {
  /**
   * The device embedding's version on the server as this device last learned it (its own write, or the
   * `current` of a 409): the `baseVersion` of the next PUT. 0 = none seen.
   */
  deviceVersion: number;
  /** What this device last wrote, so an unchanged embedding is not written again. */
  pushed?: DeviceEmbedding;
  /** `updatedAt` of the server embedding last adopted. */
  serverUpdatedAt?: number;
  lastSyncAt?: number;
  /** The privacy setting this device last wrote to (or learned from) the server; absent = never (off). */
  privacyOnServer?: boolean;
}
