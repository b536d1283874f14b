import type { Event } from '../../core/events.ts';
import type { UserState } from '../storage/index.ts';

export type {
  EmbeddingDetail,
  EmbeddingOutcome,
  SyncPassResult,
  SyncState,
  SyncStatus,
} from '../../core/contract/types.ts';

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
