/**
 * Crash safety of event ingestion, against the real `edgerec serve` process: SIGKILL it while batches
 * stream in, restart it on the same data, retry. A 200 must mean "durably stored", a batch must be stored
 * whole or not at all, and retries must never store an event twice.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, type Event } from '../../src/core/events.ts';
import type { StoredEvent } from '../../src/server/store/index.ts';
import { DB_KINDS, type DbKind } from './support/context.ts';
import {
  createPgSchema,
  type PgSchema,
  request,
  type ServerProcess,
  sharedSecret,
  startServeProcess,
  tempDir,
} from './support/process.ts';

const BATCHES = 200;
const PER_BATCH = 50;
const USERS = 8;
const IN_FLIGHT = 8;
/** SIGKILL once this many batches are acknowledged (30 %). */
const KILL_AFTER = Math.round(BATCHES * 0.3);

const userOf = (batch: number) => `crash-user-${batch % USERS}`;

function batchEvents(batch: number): Event[] {
  return Array.from({ length: PER_BATCH }, (_, k) => {
    const event: Event = {
      id: `b${batch}-e${k}`,
      userId: userOf(batch),
      itemId: `item-${(batch * 31 + k * 7) % 997}`,
      action: ACTIONS[(batch + k) % ACTIONS.length],
      ts: 1_700_000_000_000 + batch * 1000 + k,
    };
    if (k % 3 === 0) event.surface = 'home';
    if (k % 4 === 0) event.dwellMs = 250.5 + k;
    return event;
  });
}

interface InsertResult {
  accepted: number;
  duplicates: number;
  conflicts: string[];
}

type Outcome = { kind: 'unsent' } | { kind: 'acked'; result: InsertResult } | { kind: 'failed'; why: string };

describe.each(DB_KINDS)('SIGKILL mid-stream, restart, retry (%s)', (kind: DbKind) => {
  const { hex: secret, signer } = sharedSecret();
  const token = (userId: string) => signer.issue(userId, 'user', 3600).token;
  // Made in beforeAll, not at collection, so a filtered-out suite leaves nothing behind.
  let dataDir: string;
  let modelsDir: string;
  let pgSchema: PgSchema | undefined;
  let server: ServerProcess | undefined;

  const start = async () => startServeProcess({ dataDir, modelsDir, secret, databaseUrl: pgSchema?.url });

  const post = (target: ServerProcess, batch: number, agent: http.Agent) =>
    request(target.url, {
      path: '/v1/events',
      json: { events: batchEvents(batch) },
      token: token(userOf(batch)),
      agent,
      timeoutMs: 30_000,
    });

  beforeAll(async () => {
    dataDir = tempDir('edgerec-crash-data-');
    modelsDir = tempDir('edgerec-crash-models-');
    if (kind === 'postgres') pgSchema = await createPgSchema('edgerec_crash');
  });

  afterAll(async () => {
    if (server) await server.kill();
    await pgSchema?.drop();
    for (const dir of [dataDir, modelsDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores every acknowledged event exactly once, and every retried batch whole', async () => {
    // --- Phase 1: stream batches, SIGKILL after 30 % are acknowledged.
    server = await start();
    const first = server;
    const outcomes: Outcome[] = Array.from({ length: BATCHES }, () => ({ kind: 'unsent' }));
    const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
    let next = 0;
    let acked = 0;
    let inFlight = 0;
    let inFlightAtKill = -1;
    let killed: Promise<unknown> | undefined;
    const worker = async () => {
      while (!killed && next < BATCHES) {
        const batch = next++;
        inFlight++;
        try {
          const response = await post(first, batch, agent);
          outcomes[batch] =
            response.status === 200
              ? { kind: 'acked', result: response.json<InsertResult>() }
              : { kind: 'failed', why: `HTTP ${response.status}` };
          if (response.status === 200) acked++;
        } catch (error) {
          outcomes[batch] = { kind: 'failed', why: (error as Error).message };
        } finally {
          inFlight--;
        }
        if (acked >= KILL_AFTER && !killed) {
          inFlightAtKill = inFlight;
          killed = first.kill();
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const exit = await first.exited;
    agent.destroy();
    expect(exit.signal).toBe('SIGKILL');

    const ackedBatches = outcomes.flatMap((o, b) => (o.kind === 'acked' ? [b] : []));
    const failedBatches = outcomes.flatMap((o, b) => (o.kind === 'failed' ? [b] : []));
    const unsentBatches = outcomes.flatMap((o, b) => (o.kind === 'unsent' ? [b] : []));
    console.log(
      `[crash ${kind}] before SIGKILL: ${ackedBatches.length} batches acknowledged, ${inFlightAtKill} in flight ` +
        `at the kill, ${failedBatches.length} failed (${[...new Set(failedBatches.map((b) => (outcomes[b] as { why: string }).why))].join(', ')}), ` +
        `${unsentBatches.length} never sent`,
    );
    // Killed mid-stream: requests were on the wire, and some of them were cut off.
    expect(ackedBatches.length).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(ackedBatches.length).toBeLessThan(BATCHES * 0.5);
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(failedBatches.length).toBeGreaterThan(0);
    expect(failedBatches.length + unsentBatches.length + ackedBatches.length).toBe(BATCHES);
    // Every id is new in the first round: an acknowledged batch stored all of its events.
    for (const b of ackedBatches) {
      expect((outcomes[b] as { result: InsertResult }).result).toEqual({
        accepted: PER_BATCH,
        duplicates: 0,
        conflicts: [],
      });
    }

    // --- Phase 2: restart on the same data; retry every unacknowledged batch and re-send some acknowledged.
    server = await start();
    const second = server;
    const resent = ackedBatches.filter((_, i) => i % 3 === 0);
    const retry = [...failedBatches, ...unsentBatches, ...resent];
    const retried = new Map<number, InsertResult>();
    const agent2 = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
    let cursor = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (cursor < retry.length) {
          const batch = retry[cursor++];
          const response = await post(second, batch, agent2);
          expect(response.status, response.text).toBe(200);
          retried.set(batch, response.json<InsertResult>());
        }
      }),
    );
    agent2.destroy();

    // A batch cut off by the kill was committed whole or not at all: never partly.
    let committedUnacked = 0;
    for (const b of failedBatches) {
      const result = retried.get(b)!;
      expect([
        { accepted: PER_BATCH, duplicates: 0, conflicts: [] },
        { accepted: 0, duplicates: PER_BATCH, conflicts: [] },
      ]).toContainEqual(result);
      if (result.duplicates === PER_BATCH) committedUnacked++;
    }
    for (const b of unsentBatches)
      expect(retried.get(b)).toEqual({ accepted: PER_BATCH, duplicates: 0, conflicts: [] });
    // Re-sending an acknowledged batch reports every event as a duplicate and stores nothing.
    for (const b of resent)
      expect(retried.get(b)).toEqual({ accepted: 0, duplicates: PER_BATCH, conflicts: [] });
    const acceptedOverall =
      ackedBatches.length * PER_BATCH + [...retried.values()].reduce((sum, r) => sum + r.accepted, 0);
    console.log(
      `[crash ${kind}] after restart: retried ${failedBatches.length + unsentBatches.length} unacknowledged ` +
        `batches (${committedUnacked} of the ${failedBatches.length} cut off had committed before the kill), ` +
        `re-sent ${resent.length} acknowledged ones; accepted ${acceptedOverall} events in all`,
    );
    expect(acceptedOverall + committedUnacked * PER_BATCH).toBe(BATCHES * PER_BATCH);

    // --- Read back through the API, paging by seq: every event once, exactly as sent.
    const sent = new Map<string, Event>();
    for (let b = 0; b < BATCHES; b++) for (const e of batchEvents(b)) sent.set(`${e.userId}/${e.id}`, e);
    const seen = new Map<string, number>();
    let pages = 0;
    for (let u = 0; u < USERS; u++) {
      const userId = `crash-user-${u}`;
      let after = 0;
      for (;;) {
        const page = await request(second.url, {
          path: `/v1/users/${userId}/events?after=${after}&limit=1000`,
          token: token(userId),
        });
        expect(page.status, page.text).toBe(200);
        const { events, next: cursorNext } = page.json<{ events: StoredEvent[]; next: number }>();
        pages++;
        if (events.length === 0) break;
        for (const { seq, ...event } of events) {
          expect(seq).toBeGreaterThan(after);
          after = seq;
          const key = `${event.userId}/${event.id}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          expect(event).toEqual(sent.get(key));
        }
        expect(cursorNext).toBe(after);
      }
    }
    const repeated = [...seen].filter(([, n]) => n > 1);
    expect(repeated).toEqual([]);
    expect(seen.size).toBe(BATCHES * PER_BATCH);
    expect([...sent.keys()].filter((key) => !seen.has(key))).toEqual([]);

    // --- And in the database itself, after a clean stop.
    const stopped = await second.stop();
    expect(stopped).toEqual({ code: 0, signal: null });
    server = undefined;
    let counts: { total: number; distinct: number };
    if (kind === 'sqlite') {
      const db = new Database(join(dataDir, 'edgerec.db'), { readonly: true });
      const row = db
        .prepare("SELECT count(*) AS total, count(DISTINCT user_id || '/' || id) AS distinct_ FROM events")
        .get() as { total: number; distinct_: number };
      counts = { total: row.total, distinct: row.distinct_ };
      db.close();
    } else {
      const [row] = await pgSchema!.query<{ total: string; distinct_: string }>(
        "SELECT count(*) AS total, count(DISTINCT user_id || '/' || id) AS distinct_ FROM $schema.events",
      );
      counts = { total: Number(row.total), distinct: Number(row.distinct_) };
    }
    console.log(
      `[crash ${kind}] stored: ${counts.total} events, ${counts.distinct} distinct ids (read back in ${pages} pages)`,
    );
    expect(counts).toEqual({ total: BATCHES * PER_BATCH, distinct: BATCHES * PER_BATCH });
  }, 150_000);
});
