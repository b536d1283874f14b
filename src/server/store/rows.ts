import { InputError } from '../../core/errors.ts';
import type { Action, Event } from '../../core/events.ts';
import type { DeviceEmbedding, ServerEmbedding, StoredEvent } from './types.ts';

/** An events row as either driver hands it back: PostgreSQL's bigint columns arrive as strings. */
export interface EventRow {
  seq: number | string;
  user_id: string;
  id: string;
  item_id: string;
  action: string;
  ts: number | string;
  surface: string | null;
  dwell_ms: number | string | null;
}

export const EVENT_COLUMNS = 'seq, user_id, id, item_id, action, ts, surface, dwell_ms';

/** Optional fields stay absent rather than null, so a stored event deep-equals the one the client sent. */
export function toStoredEvent(row: EventRow): StoredEvent {
  const event: StoredEvent = {
    seq: Number(row.seq),
    id: row.id,
    userId: row.user_id,
    itemId: row.item_id,
    action: row.action as Action,
    ts: Number(row.ts),
  };
  if (row.surface !== null) event.surface = row.surface;
  if (row.dwell_ms !== null) event.dwellMs = Number(row.dwell_ms);
  return event;
}

/** Whether an event sent again carries exactly the content stored under its id (a retry, not a conflict). */
export function sameContent(stored: Event, sent: Event): boolean {
  return (
    stored.itemId === sent.itemId &&
    stored.action === sent.action &&
    stored.ts === sent.ts &&
    stored.surface === sent.surface &&
    stored.dwellMs === sent.dwellMs
  );
}

export interface ServerEmbeddingRow {
  vector: string;
  model_version: string;
  event_seq: number | string;
  updated_at: number | string;
}

export function toServerEmbedding(row: ServerEmbeddingRow): ServerEmbedding {
  return {
    vector: decodeVector(row.vector),
    modelVersion: row.model_version,
    eventSeq: Number(row.event_seq),
    updatedAt: Number(row.updated_at),
  };
}

export interface DeviceEmbeddingRow {
  vector: string;
  model_version: string;
  version: number | string;
  updated_at: number | string;
}

export function toDeviceEmbedding(row: DeviceEmbeddingRow): DeviceEmbedding {
  return {
    vector: decodeVector(row.vector),
    modelVersion: row.model_version,
    version: Number(row.version),
    updatedAt: Number(row.updated_at),
  };
}

/**
 * Vectors are kept as JSON text in both stores: JSON numbers round-trip every double (float32 values
 * included) exactly, independent of a server's float formatting settings, and read the same in both.
 */
export function encodeVector(vector: readonly number[]): string {
  for (const [i, x] of vector.entries()) {
    // JSON would silently turn NaN and Infinity into null.
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new InputError(`embedding vector[${i}] must be a finite number, got ${String(x)}`);
    }
  }
  return JSON.stringify(vector);
}

function decodeVector(text: string): number[] {
  return JSON.parse(text) as number[];
}

/** Rejects limits SQL would misread (negative LIMIT means "no limit" in SQLite) before they reach a query. */
export function checkCount(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new InputError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}
