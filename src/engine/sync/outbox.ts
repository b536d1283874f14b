import type { Event } from '../../core/events.ts';
import { type SyncHttp, SyncHttpError } from './http.ts';
import type { SyncPassResult, SyncStorage } from './types.ts';

/** Events read from the outbox per upload: the server takes 1 to 500. */
export const OUTBOX_BATCH = 200;
/** A batch's JSON is kept under this (the server's body limit is 1 MiB). */
export const MAX_BATCH_BYTES = 900 * 1024;
/**
 * Single events refused in one pass before the client stops believing the fault is the events': past this
 * many, a refusal is taken as a contract mismatch between this client and the server (the server wants
 * something no event of this client has), the outbox is left as it is and the client stops (`error`).
 */
export const MAX_REFUSED_PER_PASS = 10;

/**
 * The server refused what this client sends as a whole (a 400 that names no event, or more refusals in
 * one pass than MAX_REFUSED_PER_PASS): a contract mismatch that only a client or server update fixes. The outbox is left untouched.
 */
export class SyncContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncContractError';
  }
}

/** The server says this user is in privacy mode (409 on POST /v1/events): raw events are not wanted. */
export class ServerPrivacyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerPrivacyError';
  }
}

export interface OutboxContext {
  storage: SyncStorage;
  http: SyncHttp;
  userId: string;
  signal?: AbortSignal;
  /** Counts of the pass, updated as batches go through (a pass that fails half-way keeps what it did). */
  tally: SyncPassResult['events'];
  /** Told about every event the server refused (kept local only). */
  onRefused?: (event: Event, message: string) => void;
}

const encoder = new TextEncoder();
const sizeOf = (event: Event) => encoder.encode(JSON.stringify(event)).byteLength + 1;

/** The index of the event a server message names (`body/events/3/surface …`, `events[3].userId …`). */
export function eventIndexIn(message: string): number | undefined {
  const match = /\bevents(?:\/|\[)(\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * Uploads the user's outbox, oldest first, `OUTBOX_BATCH` events (at most `MAX_BATCH_BYTES`) at a time,
 * one batch after the other, marking each batch synced as soon as the server's 200 (which it sends only
 * once the batch is durably committed) arrives; duplicates count as synced. Ends when the outbox is empty.
 * Throws on the first failure that is not an event's own fault (network, 5xx, 401 …): the caller decides
 * when to try again, and what was marked stays marked.
 *
 * A 400 or 413 is an event's fault only once it is isolated: the batch is split — around the event the
 * server's message names when it names one, else in halves — and the parts sent again, down to a single
 * event. A single event refused with 413, or with a 400 that names it, is kept in the local log but taken
 * out of the outbox for good (`markLocalOnly`, with the server's message): events were validated locally,
 * so such a refusal is a contract mismatch for that event (e.g. a `surface` longer than the server's 64
 * characters), and resending it can never succeed. A single event refused with a message that names no
 * event, or more than MAX_REFUSED_PER_PASS refusals in one pass, mean the mismatch is not the events':
 * a SyncContractError is thrown and the outbox left alone.
 */
export async function drainOutbox(ctx: OutboxContext): Promise<void> {
  let previousFirst: string | undefined;
  for (;;) {
    ctx.signal?.throwIfAborted();
    const events = await ctx.storage.unsynced(OUTBOX_BATCH, ctx.userId);
    if (events.length === 0) return;
    // A batch that comes back unchanged would loop forever; the outbox changed under us (another tab).
    if (events[0].id === previousFirst) return;
    previousFirst = events[0].id;
    const batch: Event[] = [];
    let bytes = 16;
    for (const event of events) {
      const size = sizeOf(event);
      if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
      batch.push(event);
      bytes += size;
    }
    await uploadBatch(ctx, batch);
  }
}

async function uploadBatch(ctx: OutboxContext, batch: Event[]): Promise<void> {
  try {
    const result = await ctx.http.request<{ accepted: number; duplicates: number }>(
      'POST',
      '/v1/events',
      { events: batch },
      ctx.signal,
    );
    await ctx.storage.markSynced(batch.map((e) => e.id));
    ctx.tally.uploaded += result?.accepted ?? 0;
    ctx.tally.duplicates += result?.duplicates ?? 0;
    return;
  } catch (error) {
    if (!(error instanceof SyncHttpError)) throw error;
    if (error.status === 409) throw new ServerPrivacyError(error.serverMessage);
    if (error.status !== 400 && error.status !== 413) throw error;
    if (batch.length === 1) return refuse(ctx, batch[0], error);
    const named = error.status === 400 ? eventIndexIn(error.serverMessage) : undefined;
    const parts =
      named !== undefined && named < batch.length
        ? [batch.slice(0, named), [batch[named]], batch.slice(named + 1)]
        : [batch.slice(0, batch.length >> 1), batch.slice(batch.length >> 1)];
    for (const part of parts) if (part.length > 0) await uploadBatch(ctx, part);
  }
}

async function refuse(ctx: OutboxContext, event: Event, error: SyncHttpError): Promise<void> {
  const own = error.status === 413 || eventIndexIn(error.serverMessage) === 0;
  if (!own)
    throw new SyncContractError(
      `the server refuses this client's events (${error.status}: ${error.serverMessage}); they stay in the outbox`,
    );
  if (ctx.tally.refused >= MAX_REFUSED_PER_PASS)
    throw new SyncContractError(
      `the server refused ${ctx.tally.refused + 1} events in one pass (last: ${error.serverMessage}); ` +
        'taking it as a client/server contract mismatch: the rest stay in the outbox',
    );
  const message = `refused by the server (${error.status}): ${error.serverMessage}`;
  await ctx.storage.markLocalOnly([event.id], message);
  ctx.tally.refused++;
  ctx.onRefused?.(event, message);
}
