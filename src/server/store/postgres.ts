import pg from 'pg';
import { InputError } from '../../core/errors.ts';
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

/**
 * Applied in order, each once; append new entries, never edit a shipped one. Times the caller supplies
 * (ts, dwell_ms, a server embedding's updated_at) are double precision so any JS number round-trips;
 * times the store stamps itself are bigint milliseconds.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    action TEXT NOT NULL,
    ts DOUBLE PRECISION NOT NULL,
    surface TEXT,
    dwell_ms DOUBLE PRECISION,
    received_at BIGINT NOT NULL,
    UNIQUE (user_id, id)
  );
  CREATE INDEX events_user_seq ON events (user_id, seq);
  -- Each user's max(events.seq), kept on insert, so staleUsers scans users rather than every event.
  CREATE TABLE user_heads (user_id TEXT PRIMARY KEY, last_seq BIGINT NOT NULL);
  CREATE INDEX user_heads_last_seq ON user_heads (last_seq);
  CREATE TABLE server_embeddings (
    user_id TEXT PRIMARY KEY,
    vector TEXT NOT NULL,
    model_version TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
  );
  CREATE TABLE device_embeddings (
    user_id TEXT PRIMARY KEY,
    vector TEXT NOT NULL,
    model_version TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE user_settings (
    user_id TEXT PRIMARY KEY,
    privacy BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
  );
  `,
];

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    // A client whose state we no longer trust goes, rather than back to the pool.
    client.release(true);
    throw error;
  }
}

async function migrate(pool: pg.Pool, schema: string | undefined): Promise<void> {
  await inTransaction(pool, async (client) => {
    // Held until COMMIT: a second server starting at once waits here, then finds the work done. It also
    // covers CREATE SCHEMA IF NOT EXISTS, which is not safe against a concurrent twin on its own.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`edgerec:migrate:${schema ?? ''}`]);
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((row) => row.version));
    const newest = Math.max(0, ...applied);
    if (newest > MIGRATIONS.length) {
      throw new Error(`database is at schema version ${newest}, newer than this edgerec knows`);
    }
    for (const [i, sql] of MIGRATIONS.entries()) {
      if (applied.has(i + 1)) continue;
      await client.query(sql);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1]);
    }
  });
}

const DEVICE_COLUMNS = 'vector, model_version, version, updated_at';
/** The largest value of a PostgreSQL INTEGER column. */
const MAX_INTEGER = 2_147_483_647;

/**
 * One statement stores the batch and raises each user's head. ORDER BY ordinality makes seq follow the
 * batch order; a repeat within the batch conflicts with its own earlier row and is skipped.
 */
const INSERT_EVENTS = `
  WITH inserted AS (
    INSERT INTO events (user_id, id, item_id, action, ts, surface, dwell_ms, received_at)
    SELECT user_id, id, item_id, action, ts, surface, dwell_ms, $8::bigint
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], $7::float8[])
      WITH ORDINALITY AS batch (user_id, id, item_id, action, ts, surface, dwell_ms, n)
    ORDER BY n
    ON CONFLICT (user_id, id) DO NOTHING
    RETURNING user_id, id, seq
  ), heads AS (
    INSERT INTO user_heads (user_id, last_seq)
    SELECT user_id, max(seq) FROM inserted GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET last_seq = greatest(user_heads.last_seq, excluded.last_seq)
  )
  SELECT user_id, id FROM inserted`;

/** The stored rows of the given (user_id, id) keys: what skipped events are compared with. */
const STORED_EVENTS = `
  SELECT ${EVENT_COLUMNS} FROM events
  JOIN unnest($1::text[], $2::text[]) AS k (k_user, k_id) ON user_id = k_user AND id = k_id`;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly insertLockKey: string,
  ) {}

  static async open(url: string, options: { schema?: string } = {}): Promise<PostgresStore> {
    const { schema } = options;
    if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
      throw new InputError(`schema must be a lowercase SQL identifier (a-z, 0-9, _), got "${schema}"`);
    }
    const pool = new pg.Pool({
      connectionString: url,
      ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
    });
    // An idle client's error (the server restarting) would otherwise crash the process; the pool drops
    // that client and the next query reports the failure to its caller.
    pool.on('error', () => {});
    try {
      await migrate(pool, schema);
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresStore(pool, `edgerec:events:${schema ?? ''}`);
  }

  async insertEvents(events: readonly Event[]): Promise<InsertResult> {
    if (events.length === 0) return { accepted: 0, duplicates: 0, conflicts: [] };
    return inTransaction(this.pool, async (client) => {
      // Sequences hand out values at insert, not commit. Serializing writers makes seq order commit
      // order, so a reader paging by seq can never pass a seq whose transaction has yet to commit.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.insertLockKey]);
      const { rows } = await client.query<{ user_id: string; id: string }>(INSERT_EVENTS, [
        events.map((e) => e.userId),
        events.map((e) => e.id),
        events.map((e) => e.itemId),
        events.map((e) => e.action),
        events.map((e) => e.ts),
        events.map((e) => e.surface ?? null),
        events.map((e) => e.dwellMs ?? null),
        Date.now(),
      ]);
      const key = (userId: string, id: string) => JSON.stringify([userId, id]);
      const inserted = new Set(rows.map((r) => key(r.user_id, r.id)));
      // A repeat within the batch is skipped too, though its key is in `inserted`: compare it as well.
      const seen = new Set<string>();
      const skipped: Event[] = [];
      for (const e of events) {
        const k = key(e.userId, e.id);
        if (inserted.has(k) && !seen.has(k)) seen.add(k);
        else skipped.push(e);
      }
      const conflicts = new Set<string>();
      if (skipped.length > 0) {
        const stored = await client.query<EventRow>(STORED_EVENTS, [
          skipped.map((e) => e.userId),
          skipped.map((e) => e.id),
        ]);
        const byKey = new Map(stored.rows.map((r) => [key(r.user_id, r.id), toStoredEvent(r)]));
        for (const e of skipped) {
          const current = byKey.get(key(e.userId, e.id));
          if (current && !sameContent(current, e)) conflicts.add(e.id);
        }
      }
      return { accepted: rows.length, duplicates: events.length - rows.length, conflicts: [...conflicts] };
    });
  }

  async eventsOf(
    userId: string,
    options: { afterSeq?: number; limit?: number } = {},
  ): Promise<StoredEvent[]> {
    const { afterSeq = 0, limit = 1000 } = options;
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [userId, afterSeq, checkCount(limit, 'limit')],
    );
    return rows.map(toStoredEvent);
  }

  async recentEventsOf(userId: string, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE user_id = $1 ORDER BY seq DESC LIMIT $2`,
      [userId, checkCount(limit, 'limit')],
    );
    return rows.reverse().map(toStoredEvent);
  }

  async countEvents(userId?: string): Promise<number> {
    const { rows } =
      userId === undefined
        ? await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM events')
        : await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE user_id = $1', [
            userId,
          ]);
    return Number(rows[0].n);
  }

  async deleteEventsOf(userId: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      `WITH head AS (DELETE FROM user_heads WHERE user_id = $1),
         gone AS (DELETE FROM events WHERE user_id = $1 RETURNING 1)
       SELECT count(*) AS n FROM gone`,
      [userId],
    );
    return Number(rows[0].n);
  }

  async serverEmbedding(userId: string): Promise<ServerEmbedding | undefined> {
    const { rows } = await this.pool.query<ServerEmbeddingRow>(
      'SELECT vector, model_version, event_seq, updated_at FROM server_embeddings WHERE user_id = $1',
      [userId],
    );
    return rows[0] && toServerEmbedding(rows[0]);
  }

  async putServerEmbedding(userId: string, embedding: ServerEmbedding): Promise<void> {
    await this.pool.query(
      `INSERT INTO server_embeddings (user_id, vector, model_version, event_seq, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (user_id) DO UPDATE SET vector = excluded.vector,
         model_version = excluded.model_version, event_seq = excluded.event_seq,
         updated_at = excluded.updated_at`,
      [
        userId,
        encodeVector(embedding.vector),
        embedding.modelVersion,
        embedding.eventSeq,
        embedding.updatedAt,
      ],
    );
  }

  async deviceEmbedding(userId: string): Promise<DeviceEmbedding | undefined> {
    const { rows } = await this.pool.query<DeviceEmbeddingRow>(
      `SELECT ${DEVICE_COLUMNS} FROM device_embeddings WHERE user_id = $1`,
      [userId],
    );
    return rows[0] && toDeviceEmbedding(rows[0]);
  }

  async putDeviceEmbedding(userId: string, write: DeviceEmbeddingWrite): Promise<DeviceWriteResult> {
    const base = checkCount(write.baseVersion, 'baseVersion');
    const vector = encodeVector(write.vector);
    // `version` is an INTEGER column: a base past its range matches no row (as in SQLite), and PostgreSQL
    // would refuse the comparison itself.
    if (base > MAX_INTEGER) return { ok: false, current: await this.deviceEmbedding(userId) };
    // Each statement is its own atomic compare-and-set: the row lock (or the unique index, for version 1)
    // lets exactly one of any number of concurrent writers with the same base win.
    const { rows } =
      base === 0
        ? await this.pool.query<DeviceEmbeddingRow>(
            `INSERT INTO device_embeddings (user_id, vector, model_version, version, updated_at)
             VALUES ($1, $2, $3, 1, $4) ON CONFLICT (user_id) DO NOTHING RETURNING ${DEVICE_COLUMNS}`,
            [userId, vector, write.modelVersion, Date.now()],
          )
        : await this.pool.query<DeviceEmbeddingRow>(
            `UPDATE device_embeddings
             SET vector = $2, model_version = $3, version = version + 1, updated_at = $4
             WHERE user_id = $1 AND version = $5 RETURNING ${DEVICE_COLUMNS}`,
            [userId, vector, write.modelVersion, Date.now(), base],
          );
    if (rows[0]) return { ok: true, current: toDeviceEmbedding(rows[0]) };
    return { ok: false, current: await this.deviceEmbedding(userId) };
  }

  async settings(userId: string): Promise<UserSettings> {
    const { rows } = await this.pool.query<{ privacy: boolean; updated_at: string }>(
      'SELECT privacy, updated_at FROM user_settings WHERE user_id = $1',
      [userId],
    );
    const row = rows[0];
    return row
      ? { privacy: row.privacy, updatedAt: Number(row.updated_at) }
      : { privacy: false, updatedAt: 0 };
  }

  async putSettings(userId: string, settings: Omit<UserSettings, 'updatedAt'>): Promise<UserSettings> {
    const updatedAt = Date.now();
    await this.pool.query(
      `INSERT INTO user_settings (user_id, privacy, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET privacy = excluded.privacy, updated_at = excluded.updated_at`,
      [userId, settings.privacy, updatedAt],
    );
    return { privacy: settings.privacy, updatedAt };
  }

  async staleUsers(limit: number): Promise<StaleUser[]> {
    const { rows } = await this.pool.query<{ user_id: string; last_seq: string }>(
      `SELECT h.user_id, h.last_seq FROM user_heads h
       LEFT JOIN server_embeddings s ON s.user_id = h.user_id
       WHERE s.user_id IS NULL OR h.last_seq > s.event_seq
       ORDER BY h.last_seq LIMIT $1`,
      [checkCount(limit, 'limit')],
    );
    return rows.map((row) => ({ userId: row.user_id, lastSeq: Number(row.last_seq) }));
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    this.closing ??= this.pool.end();
    await this.closing;
  }
}

export function openPostgresStore(url: string, options?: { schema?: string }): Promise<PostgresStore> {
  return PostgresStore.open(url, options);
}
