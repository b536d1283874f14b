/**
 * The IndexedDB schema of the engine: one database (`edgerec` by default) holding the bundle cache, the
 * local event log and the per-user state. Typed with idb's DBSchema so every store, key and index is
 * checked at compile time.
 */
import type { DBSchema, IDBPDatabase } from 'idb';
import type { BundleManifest } from '../../core/bundle/index.ts';
import type { Event } from '../../core/events.ts';

export const DEFAULT_DB_NAME = 'edgerec';
/** Bump with a migration in `upgrade` whenever a store or an index changes. */
export const DB_VERSION = 1;

/** A bundle file, keyed by its SHA-256: files are content-addressed, so versions share identical ones. */
export interface FileRecord {
  sha256: string;
  /** Large files are Blobs: Chromium refuses a structured-clone value over 127 MiB (a 1M × 64 f32 table is 256 MB). */
  bytes: ArrayBuffer | Blob;
  size: number;
  /** ms since the epoch. */
  storedAt: number;
}

export interface ManifestRecord {
  version: string;
  manifest: BundleManifest;
  /** Where the bundle was fetched from (the network source's `describe()`), for messages and refetches. */
  baseUrl: string;
  storedAt: number;
}

/** Keys of the `meta` store the engine itself uses. */
export type MetaKey = 'current' | 'previous' | 'pending';

/**
 * Outbox state of a stored event: 0 = pending upload, 1 = accepted by the server, 2 = local only (recorded
 * in privacy mode, or pending when privacy was turned on: never to be uploaded), 3 = set aside (the server
 * refused it, or holds another event under its id: kept and reported, never sent again). A number, not a
 * boolean, because booleans are not valid IndexedDB keys and the outbox index is keyed on it. Adding 2 and 3
 * needed no schema change: the index holds whatever value a record has.
 */
export type SyncedFlag = 0 | 1 | 2 | 3;

/** An event as stored: the Event contract plus its outbox state. */
export interface EventRecord extends Event {
  synced: SyncedFlag;
  /** Why an event is local only or set aside (`synced` 2 or 3), in words: privacy mode, the server's message. */
  localReason?: string;
}

/** Engagement counts kept per user (impressions are not counted: they are exposure, not engagement). */
export interface UserCounts {
  click: number;
  closeup: number;
  save: number;
  hide: number;
}

/** What the device keeps about one user between sessions. */
export interface UserState {
  userId: string;
  /** The server's long-term embedding (PinnerFormer), as last synced. */
  longTerm?: { vector: number[]; modelVersion: string; updatedAt: number };
  /**
   * The embedding learnt on the device from local feedback (src/engine/learning), or adopted from another
   * device of the user through the server (`source: 'remote'`); recommend() reads it in place of `longTerm`.
   */
  learned?: {
    vector: number[];
    modelVersion: string;
    source: 'device' | 'remote';
    steps: number;
    loss?: number;
    updatedAt: number;
  };
  /** Another device's learned embedding, adopted through the server: where this device's learning starts. */
  devicePrior?: { vector: number[]; modelVersion: string; version: number };
  counts: UserCounts;
  /** Item ids the user hid, never to be recommended again. */
  hidden: string[];
  updatedAt: number;
  /**
   * Privacy mode, shared by every tab of this user: an event appended while it is on is stored local only
   * (decided in the append's own transaction) and never enters the outbox. Absent = off.
   */
  privacy?: boolean;
}

export interface EdgerecDB extends DBSchema {
  files: { key: string; value: FileRecord };
  manifests: { key: string; value: ManifestRecord };
  meta: { key: string; value: unknown };
  events: {
    key: string;
    value: EventRecord;
    indexes: {
      /** A user's events in time order: the encoder reads the most recent ones. */
      'by-user-ts': [string, number];
      /** The outbox: unsynced events (synced = 0) oldest first, for the sync client. */
      'by-synced-ts': [SyncedFlag, number];
    };
  };
  users: { key: string; value: UserState };
}

export type StoreName = 'files' | 'manifests' | 'meta' | 'events' | 'users';
export const STORE_NAMES: readonly StoreName[] = ['files', 'manifests', 'meta', 'events', 'users'];

export type EdgerecDatabase = IDBPDatabase<EdgerecDB>;

/** Creates the stores of a fresh database, and (later) migrates older ones step by step. */
export function upgradeSchema(db: EdgerecDatabase, oldVersion: number): void {
  if (oldVersion < 1) {
    db.createObjectStore('files', { keyPath: 'sha256' });
    db.createObjectStore('manifests', { keyPath: 'version' });
    // Out-of-line keys: meta values are plain values (a version string), not records.
    db.createObjectStore('meta');
    const events = db.createObjectStore('events', { keyPath: 'id' });
    events.createIndex('by-user-ts', ['userId', 'ts']);
    events.createIndex('by-synced-ts', ['synced', 'ts']);
    db.createObjectStore('users', { keyPath: 'userId' });
  }
}
