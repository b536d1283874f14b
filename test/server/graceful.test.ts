/**
 * Graceful shutdown of the real `edgerec serve` process: SIGTERM while batches are in flight. Requests
 * the server had already started keep going and get their 200 (their events stored), new connections
 * are refused, and the process exits 0 once they are done. Nothing is stored that was not acknowledged.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../../src/core/events.ts';
import { openStore, type Store } from '../../src/server/store/index.ts';
import { DB_KINDS, type DbKind, POSTGRES_URL } from './support/context.ts';
import {
  createPgSchema,
  type PgSchema,
  request,
  type ServerProcess,
  sharedSecret,
  startServeProcess,
  tempDir,
} from './support/process.ts';

const PER_BATCH = 50;
/** Requests whose body is half sent when SIGTERM arrives: in flight for certain. */
const SLOW = 6;
/** Workers streaming whole batches back to back across the signal. */
const STREAMERS = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function events(userId: string, prefix: string): Event[] {
  return Array.from({ length: PER_BATCH }, (_, k) => ({
    id: `${prefix}-${k}`,
    userId,
    itemId: `item-${k % 13}`,
    action: 'click',
    ts: 1_700_000_000_000 + k,
  }));
}

/** A POST whose headers and first half of body go out now, the rest when `finish()` is called. */
function halfSentPost(url: string, token: string, body: string) {
  const { hostname, port } = new URL(url);
  const bytes = Buffer.from(body);
  const req = http.request({
    host: hostname,
    port,
    method: 'POST',
    path: '/v1/events',
    agent: false,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': bytes.byteLength,
    },
  });
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  req.write(bytes.subarray(0, bytes.byteLength >> 1));
  return { response, finish: () => req.end(bytes.subarray(bytes.byteLength >> 1)) };
}

async function allEvents(store: Store, userId: string): Promise<string[]> {
  const ids: string[] = [];
  let after = 0;
  for (;;) {
    const page = await store.eventsOf(userId, { afterSeq: after, limit: 1000 });
    if (page.length === 0) return ids;
    ids.push(...page.map((e) => e.id));
    after = page[page.length - 1].seq;
  }
}

describe.each(DB_KINDS)('SIGTERM with batches in flight (%s)', (kind: DbKind) => {
  const { hex: secret, signer } = sharedSecret();
  let dataDir: string;
  let modelsDir: string;
  let pgSchema: PgSchema | undefined;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    dataDir = tempDir('edgerec-graceful-data-');
    modelsDir = tempDir('edgerec-graceful-models-');
    if (kind === 'postgres') pgSchema = await createPgSchema('edgerec_graceful');
  });
  afterAll(async () => {
    if (server) await server.kill();
    await pgSchema?.drop();
    for (const dir of [dataDir, modelsDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finishes in-flight requests, refuses new connections, exits 0', async () => {
    server = await startServeProcess({ dataDir, modelsDir, secret, databaseUrl: pgSchema?.url });
    const { url } = server;
    const slowUser = 'graceful-slow';
    const streamUser = 'graceful-stream';
    const slowToken = signer.issue(slowUser, 'user', 3600).token;
    const streamToken = signer.issue(streamUser, 'user', 3600).token;

    // Whole batches back to back, over keep-alive and fresh connections, until the server stops taking them.
    let signalledAt = Number.POSITIVE_INFINITY;
    const streamed: {
      id: string;
      status: number | string;
      fresh: boolean;
      startedAt: number;
      endedAt: number;
    }[] = [];
    let serial = 0;
    const streamer = async (w: number) => {
      const agent = w % 2 === 0 ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
      try {
        for (;;) {
          const id = `s${serial++}`;
          const startedAt = performance.now();
          const fresh = agent === undefined;
          try {
            const response = await request(url, {
              path: '/v1/events',
              json: { events: events(streamUser, id) },
              token: streamToken,
              agent,
              timeoutMs: 20_000,
            });
            streamed.push({ id, status: response.status, fresh, startedAt, endedAt: performance.now() });
            if (response.status !== 200) {
              // Only the "server is closing" answer is acceptable, and only after the signal.
              expect(response.status, response.text).toBe(503);
              expect(performance.now()).toBeGreaterThan(signalledAt);
              expect(response.json<{ message: string }>().message).toMatch(/\S/);
              return;
            }
          } catch (error) {
            streamed.push({
              id,
              status: (error as NodeJS.ErrnoException).code ?? 'error',
              fresh,
              startedAt,
              endedAt: performance.now(),
            });
            return;
          }
        }
      } finally {
        agent?.destroy();
      }
    };
    const streaming = Promise.all(Array.from({ length: STREAMERS }, (_, w) => streamer(w)));

    const slow = Array.from({ length: SLOW }, (_, i) =>
      halfSentPost(url, slowToken, JSON.stringify({ events: events(slowUser, `slow${i}`) })),
    );
    // The server accepts connections in order: once a request on a connection opened after the slow ones has
    // been answered, the slow ones are accepted and their headers (sent at once) read. Then a little more.
    const slowSentAt = performance.now();
    const deadline = slowSentAt + 20_000;
    while (!streamed.some((s) => s.fresh && s.status === 200 && s.startedAt > slowSentAt)) {
      expect(performance.now(), 'no request answered after the slow ones were sent').toBeLessThan(deadline);
      await sleep(20);
    }
    await sleep(300);

    signalledAt = performance.now();
    server.child.kill('SIGTERM');
    await sleep(400);

    // Closing: the listener is gone, but the process is still alive, waiting for the slow requests.
    expect(server.child.exitCode).toBeNull();
    const refused = await request(url, { path: '/healthz', timeoutMs: 5000 }).then(
      (r) => `HTTP ${r.status}`,
      (error: NodeJS.ErrnoException) => error.code,
    );
    expect(refused).toBe('ECONNREFUSED');

    for (const s of slow) s.finish();
    const slowResults = await Promise.all(slow.map((s) => s.response));
    for (const r of slowResults) {
      expect(r.status, r.text).toBe(200);
      expect(JSON.parse(r.text)).toEqual({ accepted: PER_BATCH, duplicates: 0, conflicts: [] });
    }
    const exit = await server.exited;
    const exitMs = performance.now() - signalledAt;
    await streaming;
    server = undefined;
    expect(exit).toEqual({ code: 0, signal: null });

    // And after the exit, nobody listens.
    await expect(request(url, { path: '/healthz', timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });

    const acked = streamed.filter((s) => s.status === 200);
    const ackedAfterSignal = acked.filter((s) => s.endedAt > signalledAt).length;
    const refusals = streamed.filter((s) => s.status !== 200).map((s) => s.status);
    console.log(
      `[graceful ${kind}] ${SLOW} half-sent requests all answered 200 after SIGTERM; streamed ${acked.length} ` +
        `batches acknowledged (${ackedAfterSignal} of them answered after the signal), then ${refusals.join(', ')}; ` +
        `exit 0 ${Math.round(exitMs)} ms after SIGTERM`,
    );

    // What the database holds: exactly the acknowledged batches, each whole and once.
    const store = await openStore(
      kind === 'postgres' ? { databaseUrl: POSTGRES_URL, dataDir, schema: pgSchema!.schema } : { dataDir },
    );
    try {
      const slowIds = await allEvents(store, slowUser);
      expect(slowIds.length).toBe(SLOW * PER_BATCH);
      expect(new Set(slowIds)).toEqual(
        new Set(Array.from({ length: SLOW }, (_, i) => events(slowUser, `slow${i}`).map((e) => e.id)).flat()),
      );
      const streamIds = await allEvents(store, streamUser);
      expect(new Set(streamIds).size).toBe(streamIds.length);
      expect(new Set(streamIds)).toEqual(
        new Set(acked.flatMap((s) => events(streamUser, s.id).map((e) => e.id))),
      );
    } finally {
      await store.close();
    }
  }, 90_000);
});
