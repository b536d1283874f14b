import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Event } from '../../core/events.ts';
import {
  checkCount,
  type DeviceEmbeddingRow,
  EVENT_COLUMNS,
  type EventRow,
  encodeVector,
  type ServerEmbeddingRow,
  sameContent,
  toDeviceEmbedding,
  toServerEmbedding,
  toStoredEvent,
} from './rows.ts';
import type {
  DeviceEmbedding,
  DeviceEmbeddingWrite,
  DeviceWriteResult,
  InsertResult,
  ServerEmbedding,
  StaleUser,
  Store,
  StoredEvent,
  UserSettings,
} from './types.ts';

/** Applied in order, each once; append new entries, never edit a shipped one. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    -- AUTOINCREMENT: a seq is never reused, even after deletes, so it stays a safe cursor.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    action TEXT NOT NULL,
    ts REAL NOT NULL,
    surface TEXT,
    dwell_ms REAL,
    received_at INTEGER NOT NULL,
    UNIQUE (user_id, id)
  ) STRICT;
  CREATE INDEX events_user_seq ON events (user_id, seq);
  -- Each user's max(events.seq), kept on insert, so staleUsers scans users rather than every event.
  CREATE TABLE user_heads (user_id TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) STRICT;
  CREATE INDEX user_heads_last_seq ON user_heads (last_seq);
  CREATE TABLE server_embeddings (
    user_id TEXT PRIMARY KEY,
    vector TEXT NOT NULL,
    model_version TEXT NOT NULL,
    event_seq INTEGER NOT NULL,
    updated_at REAL NOT NULL
  ) STRICT;
  CREATE TABLE device_embeddings (
    user_id TEXT PRIMARY KEY,
    vector TEXT NOT NULL,
    model_version TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE user_settings (
    user_id TEXT PRIMARY KEY,
    privacy INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  `,
];

function migrate(db: Database.Database): void {
  // IMMEDIATE takes the write lock up front, so a second process opening at once waits, then sees our work.
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY) STRICT');
    const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    const newest = Math.max(0, ...applied);
    if (newest > MIGRATIONS.length) {
      throw new Error(`database is at schema version ${newest}, newer than this edgerec knows`);
    }
    const record = db.prepare('INSERT INTO schema_migrations (version) VALUES (?)');
    MIGRATIONS.forEach((sql, i) => {
      if (applied.has(i + 1)) return;
      db.exec(sql);
      record.run(i + 1);
    });
  }).immediate();
}

function open(file: string): Database.Database {
  if (file !== ':memory:' && !existsSync(file)) {
    // Users' events and embeddings: readable by the server's user only. SQLite creates the -wal and -shm
    // files with the database file's mode.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    closeSync(openSync(file, 'a', 0o600));
  }
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    // FULL syncs the WAL on every commit: an acknowledged write survives power loss, not just a crash.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

const DEVICE_COLUMNS = 'vector, model_version, version, updated_at';

function statements(db: Database.Database) {
  return {
    insertEvent: db.prepare(
      `INSERT INTO events (user_id, id, item_id, action, ts, surface, dwell_ms, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, id) DO NOTHING`,
    ),
    storedEvent: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE user_id = ? AND id = ?`),
    raiseHead: db.prepare(
      `INSERT INTO user_heads (user_id, last_seq) VALUES (?, ?)
       ON CONFLICT (user_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)`,
    ),
    eventsAfter: db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    ),
    newestEvents: db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE user_id = ? ORDER BY seq DESC LIMIT ?`,
    ),
    countAll: db.prepare('SELECT count(*) FROM events').pluck(),
    countUser: db.prepare('SELECT count(*) FROM events WHERE user_id = ?').pluck(),
    deleteEvents: db.prepare('DELETE FROM events WHERE user_id = ?'),
    deleteHead: db.prepare('DELETE FROM user_heads WHERE user_id = ?'),
    serverEmbedding: db.prepare(
      'SELECT vector, model_version, event_seq, updated_at FROM server_embeddings WHERE user_id = ?',
    ),
    putServerEmbedding: db.prepare(
      `INSERT INTO server_embeddings (user_id, vector, model_version, event_seq, updated_at)
       VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET vector = excluded.vector,
         model_version = excluded.model_version, event_seq = excluded.event_seq,
         updated_at = excluded.updated_at`,
    ),
    deviceEmbedding: db.prepare(`SELECT ${DEVICE_COLUMNS} FROM device_embeddings WHERE user_id = ?`),
    createDevice: db.prepare(
      `INSERT INTO device_embeddings (user_id, vector, model_version, version, updated_at)
       VALUES (?, ?, ?, 1, ?) ON CONFLICT (user_id) DO NOTHING RETURNING ${DEVICE_COLUMNS}`,
    ),
    advanceDevice: db.prepare(
      `UPDATE device_embeddings SET vector = ?, model_version = ?, version = version + 1, updated_at = ?
       WHERE user_id = ? AND version = ? RETURNING ${DEVICE_COLUMNS}`,
    ),
    settings: db.prepare('SELECT privacy, updated_at FROM user_settings WHERE user_id = ?'),
    putSettings: db.prepare(
      `INSERT INTO user_settings (user_id, privacy, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET privacy = excluded.privacy, updated_at = excluded.updated_at`,
    ),
    staleUsers: db.prepare(
      `SELECT h.user_id, h.last_seq FROM user_heads h
       LEFT JOIN server_embeddings s ON s.user_id = h.user_id
       WHERE s.user_id IS NULL OR h.last_seq > s.event_seq
       ORDER BY h.last_seq LIMIT ?`,
    ),
    ping: db.prepare('SELECT 1').pluck(),
  };
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly sql: ReturnType<typeof statements>;

  constructor(file: string) {
    this.db = open(file);
    this.sql = statements(this.db);
  }

  private insertBatch(events: readonly Event[]): { accepted: number; conflicts: string[] } {
    const receivedAt = Date.now();
    const heads = new Map<string, number>();
    const conflicts = new Set<string>();
    let accepted = 0;
    for (const e of events) {
      const result = this.sql.insertEvent.run(
        e.userId,
        e.id,
        e.itemId,
        e.action,
        e.ts,
        e.surface ?? null,
        e.dwellMs ?? null,
        receivedAt,
      );
      if (result.changes === 0) {
        const stored = this.sql.storedEvent.get(e.userId, e.id) as EventRow;
        if (!sameContent(toStoredEvent(stored), e)) conflicts.add(e.id);
        continue;
      }
      accepted++;
      heads.set(e.userId, Number(result.lastInsertRowid));
    }
    for (const [userId, seq] of heads) this.sql.raiseHead.run(userId, seq);
    return { accepted, conflicts: [...conflicts] };
  }

  async insertEvents(events: readonly Event[]): Promise<InsertResult> {
    if (events.length === 0) return { accepted: 0, duplicates: 0, conflicts: [] };
    const { accepted, conflicts } = this.db.transaction(() => this.insertBatch(events)).immediate();
    return { accepted, duplicates: events.length - accepted, conflicts };
  }

  async eventsOf(
    userId: string,
    options: { afterSeq?: number; limit?: number } = {},
  ): Promise<StoredEvent[]> {
    const { afterSeq = 0, limit = 1000 } = options;
    const rows = this.sql.eventsAfter.all(userId, afterSeq, checkCount(limit, 'limit')) as EventRow[];
    return rows.map(toStoredEvent);
  }

  async recentEventsOf(userId: string, limit: number): Promise<StoredEvent[]> {
    const rows = this.sql.newestEvents.all(userId, checkCount(limit, 'limit')) as EventRow[];
    return rows.reverse().map(toStoredEvent);
  }

  async countEvents(userId?: string): Promise<number> {
    const n = userId === undefined ? this.sql.countAll.get() : this.sql.countUser.get(userId);
    return Number(n);
  }

  async deleteEventsOf(userId: string): Promise<number> {
    return this.db
      .transaction(() => {
        this.sql.deleteHead.run(userId);
        return this.sql.deleteEvents.run(userId).changes;
      })
      .immediate();
  }

  async serverEmbedding(userId: string): Promise<ServerEmbedding | undefined> {
    const row = this.sql.serverEmbedding.get(userId) as ServerEmbeddingRow | undefined;
    return row && toServerEmbedding(row);
  }

  async putServerEmbedding(userId: string, embedding: ServerEmbedding): Promise<void> {
    this.sql.putServerEmbedding.run(
      userId,
      encodeVector(embedding.vector),
      embedding.modelVersion,
      embedding.eventSeq,
      embedding.updatedAt,
    );
  }

  async deviceEmbedding(userId: string): Promise<DeviceEmbedding | undefined> {
    const row = this.sql.deviceEmbedding.get(userId) as DeviceEmbeddingRow | undefined;
    return row && toDeviceEmbedding(row);
  }

  async putDeviceEmbedding(userId: string, write: DeviceEmbeddingWrite): Promise<DeviceWriteResult> {
    const base = checkCount(write.baseVersion, 'baseVersion');
    const vector = encodeVector(write.vector);
    // The write and the read of `current` share one IMMEDIATE transaction, so a refusal reports the
    // version that actually beat us, and another connection cannot slip in between.
    return this.db
      .transaction((): DeviceWriteResult => {
        const now = Date.now();
        const written = (
          base === 0
            ? this.sql.createDevice.get(userId, vector, write.modelVersion, now)
            : this.sql.advanceDevice.get(vector, write.modelVersion, now, userId, base)
        ) as DeviceEmbeddingRow | undefined;
        if (written) return { ok: true, current: toDeviceEmbedding(written) };
        const row = this.sql.deviceEmbedding.get(userId) as DeviceEmbeddingRow | undefined;
        return { ok: false, current: row && toDeviceEmbedding(row) };
      })
      .immediate();
  }

  async settings(userId: string): Promise<UserSettings> {
    const row = this.sql.settings.get(userId) as { privacy: number; updated_at: number } | undefined;
    return row ? { privacy: row.privacy !== 0, updatedAt: row.updated_at } : { privacy: false, updatedAt: 0 };
  }

  async putSettings(userId: string, settings: Omit<UserSettings, 'updatedAt'>): Promise<UserSettings> {
    const updatedAt = Date.now();
    this.sql.putSettings.run(userId, settings.privacy ? 1 : 0, updatedAt);
    return { privacy: settings.privacy, updatedAt };
  }

  async staleUsers(limit: number): Promise<StaleUser[]> {
    const rows = this.sql.staleUsers.all(checkCount(limit, 'limit')) as {
      user_id: string;
      last_seq: number;
    }[];
    return rows.map((row) => ({ userId: row.user_id, lastSeq: row.last_seq }));
  }

  async ping(): Promise<void> {
    this.sql.ping.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

export async function openSqliteStore(file: string): Promise<SqliteStore> {
  return new SqliteStore(file);
}
