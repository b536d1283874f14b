import type { Event } from '../../core/events.ts';
import { type SyncHttp, SyncHttpError } from './http.ts';
import type { SyncPassResult, SyncStorage } from './types.ts';

/** Events read from the outbox per upload: the server takes 1 to 500. */
export const OUTBOX_BATCH = 200;
/** A batch's JSON is kept under this (the server's body limit is 1 MiB). */
export const MAX_BATCH_BYTES = 900 * 1024;
/**
 * Events set aside in one pass before the client stops believing the fault is the events': past this many,
 * refusals are taken as a contract mismatch between this client and the server (the server wants
 * something no event of this client has), the rest of the outbox is left as it is and automatic passes
 * stop (`error`) until an explicit sync().
 */
export const MAX_REFUSED_PER_PASS = 10;

/**
 * The server refused what this client sends as a whole (a status that is never one event's fault, or more
 * refusals in one pass than MAX_REFUSED_PER_PASS): a contract mismatch that only a client or server
 * update fixes. The outbox is left untouched.
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

/**
 * Whether a status on POST /v1/events can be the fault of the events sent: a 4xx other than auth (401,
 * 403), privacy (409), slow down (408, 429) and those that are about the route or the request's form, never
 * its events (404, 405, 415).
 */
export function isEventRefusal(status: number): boolean {
  return status >= 400 && status < 500 && ![401, 403, 404, 405, 408, 409, 415, 429].includes(status);
}

export interface OutboxContext {
  storage: SyncStorage;
  http: SyncHttp;
  userId: string;
  signal?: AbortSignal;
  /** Counts of the pass, updated as batches go through (a pass that fails half-way keeps what it did). */
  tally: SyncPassResult['events'];
  /** Told about every event set aside (refused alone, or a conflict the server reported). */
  onRefused?: (event: Event, message: string) => void;
}

/** The answer to POST /v1/events; `conflicts` (ids the server holds with other content) may be absent. */
interface EventsAnswer {
  accepted?: number;
  duplicates?: number;
  conflicts?: unknown;
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
 * once the batch is durably committed) arrives; duplicates count as synced, and ids the 200 lists as
 * `conflicts` (the server holds another event under that id) are set aside. Ends when the outbox is
 * empty. Throws on the first failure that is not an event's own fault (network, 5xx, 401 …): the caller
 * decides when to try again, and what was marked stays marked.
 *
 * A refusal that can be the events' fault (`isEventRefusal`: 400, 413, 422 …) is narrowed down by
 * bisection — the batch split around the event the server's message names when it names one, else in
 * halves — and the parts sent again, down to a single event. A single event refused so is set aside
 * (`markSetAside`, with the server's message): kept in the log and reported, never sent again, never
 * blocking the events behind it. More than MAX_REFUSED_PER_PASS in one pass mean the mismatch is not the
 * events': a SyncContractError is thrown and the rest of the outbox left alone.
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
  let result: EventsAnswer | undefined;
  try {
    result = await ctx.http.request<EventsAnswer>('POST', '/v1/events', { events: batch }, ctx.signal);
  } catch (error) {
    if (!(error instanceof SyncHttpError)) throw error;
    if (error.status === 409) throw new ServerPrivacyError(error.serverMessage);
    if (!isEventRefusal(error.status)) throw error;
    if (batch.length === 1)
      return refuse(ctx, batch[0], `refused by the server (${error.status}): ${error.serverMessage}`);
    const named = eventIndexIn(error.serverMessage);
    const parts =
      named !== undefined && named < batch.length
        ? [batch.slice(0, named), [batch[named]], batch.slice(named + 1)]
        : [batch.slice(0, batch.length >> 1), batch.slice(batch.length >> 1)];
    for (const part of parts) if (part.length > 0) await uploadBatch(ctx, part);
    return;
  }
  const sent = new Set(batch.map((e) => e.id));
  const conflicts = new Set(
    Array.isArray(result?.conflicts)
      ? result.conflicts.filter((id): id is string => typeof id === 'string' && sent.has(id))
      : [],
  );
  await ctx.storage.markSynced(batch.filter((e) => !conflicts.has(e.id)).map((e) => e.id));
  ctx.tally.uploaded += result?.accepted ?? 0;
  ctx.tally.duplicates += result?.duplicates ?? 0;
  for (const event of batch)
    if (conflicts.has(event.id))
      await refuse(ctx, event, 'in conflict: the server holds another event under this id', false);
}

async function refuse(ctx: OutboxContext, event: Event, message: string, guarded = true): Promise<void> {
  if (guarded && ctx.tally.refused >= MAX_REFUSED_PER_PASS)
    throw new SyncContractError(
      `the server refused ${ctx.tally.refused + 1} events in one pass (last: ${message}); ` +
        'taking it as a client/server contract mismatch: the rest stay in the outbox',
    );
  await ctx.storage.markSetAside([event.id], message);
  ctx.tally.refused++;
  ctx.onRefused?.(event, message);
}
