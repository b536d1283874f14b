import type { Event } from '../../core/events.ts';

/** What one `insertEvents` call did: events new to the store, and ids it already held (retries). */
export interface InsertResult {
  accepted: number;
  /** Events not stored because their (userId, id) was already stored: retries, and the conflicts below. */
  duplicates: number;
  /**
   * Ids (each once) of events whose (userId, id) the store already held with other content: the stored
   * event stays as it was, and the client learns that its id was reused.
   */
  conflicts: string[];
}

/** An event as the server keeps it: the contract's fields plus the order the server received it in. */
export interface StoredEvent extends Event {
  /** Server-assigned, strictly increasing across the whole store: a cursor for paging and the refresh job. */
  seq: number;
}

/** The server's long-term embedding of a user (PinnerFormer), written by the refresh job. */
export interface ServerEmbedding {
  vector: number[];
  /** The bundle version whose item table the vector lives in. */
  modelVersion: string;
  /** The newest event seq the embedding has seen. */
  eventSeq: number;
  updatedAt: number;
}

/** The embedding a device learned, with an optimistic-concurrency version starting at 1. */
export interface DeviceEmbedding {
  vector: number[];
  modelVersion: string;
  version: number;
  updatedAt: number;
}

export interface DeviceEmbeddingWrite {
  vector: number[];
  modelVersion: string;
  /** The version the device last saw: 0 when it has never seen one. */
  baseVersion: number;
}

export type DeviceWriteResult =
  | { ok: true; current: DeviceEmbedding }
  | { ok: false; current: DeviceEmbedding | undefined };

export interface UserSettings {
  /** Raw events never leave the device; only the device-learned embedding syncs. */
  privacy: boolean;
  updatedAt: number;
}

/** A user whose newest event is newer than their server embedding. */
export interface StaleUser {
  userId: string;
  lastSeq: number;
}

/**
 * Everything the server persists, behind one interface with a SQLite and a PostgreSQL adapter. Every
 * method that writes resolves only once the write is durably committed: that is what "acknowledged" means.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Stores new events and skips ids the store already holds for that user, in one transaction; a skipped
   * event whose content differs from the stored one is reported in `conflicts`.
   */
  insertEvents(events: readonly Event[]): Promise<InsertResult>;
  /** A user's events with seq > `afterSeq`, oldest first. */
  eventsOf(userId: string, options?: { afterSeq?: number; limit?: number }): Promise<StoredEvent[]>;
  /** The newest `limit` events of a user, oldest first (what the refresh job encodes). */
  recentEventsOf(userId: string, limit: number): Promise<StoredEvent[]>;
  countEvents(userId?: string): Promise<number>;
  /** Deletes a user's raw events (privacy mode turned on); returns how many went. */
  deleteEventsOf(userId: string): Promise<number>;

  serverEmbedding(userId: string): Promise<ServerEmbedding | undefined>;
  putServerEmbedding(userId: string, embedding: ServerEmbedding): Promise<void>;
  deviceEmbedding(userId: string): Promise<DeviceEmbedding | undefined>;
  /** Compare-and-set on `baseVersion`: a stale base is refused with the current embedding. */
  putDeviceEmbedding(userId: string, write: DeviceEmbeddingWrite): Promise<DeviceWriteResult>;

  settings(userId: string): Promise<UserSettings>;
  putSettings(userId: string, settings: Omit<UserSettings, 'updatedAt'>): Promise<UserSettings>;

  /** Users with events newer than their server embedding (or with none), oldest first, up to `limit`. */
  staleUsers(limit: number): Promise<StaleUser[]>;

  /** A cheap round trip, for /healthz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
