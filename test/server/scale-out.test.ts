/**
 * Scale-out: two `edgerec serve` processes over ONE PostgreSQL database, sharing `EDGEREC_SECRET`. Tokens
 * are stateless, so either process verifies the other's; event ids deduplicate across processes, even for
 * the same batch sent to both at once; the device embedding's compare-and-set holds across processes.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import http from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../../src/core/events.ts';
import { TokenSigner } from '../../src/server/auth/index.ts';
import type { DeviceEmbedding, StoredEvent } from '../../src/server/store/index.ts';
import {
  CLI,
  createPgSchema,
  type PgSchema,
  request,
  type ServerProcess,
  sharedSecret,
  startServeProcess,
  tempDir,
} from './support/process.ts';

const PER_BATCH = 50;
const USERS = 4;
const ALTERNATE = 40;
const TWICE = 20;
const ROUNDS = 12;

const userOf = (batch: number) => `scale-user-${batch % USERS}`;
function batchEvents(prefix: string, batch: number): Event[] {
  return Array.from({ length: PER_BATCH }, (_, k) => ({
    id: `${prefix}${batch}-${k}`,
    userId: userOf(batch),
    itemId: `item-${(batch + k) % 31}`,
    action: 'save',
    ts: 1_700_000_000_000 + batch * 100 + k,
  }));
}

describe('two server processes over one PostgreSQL database', () => {
  const { hex: secret, signer } = sharedSecret();
  let dataDirs: string[] = [];
  let modelsDir = '';
  const agents = [new http.Agent({ keepAlive: true }), new http.Agent({ keepAlive: true })];
  let pgSchema: PgSchema;
  let servers: ServerProcess[] = [];
  let cliToken: string;

  const token = (userId: string) => signer.issue(userId, 'user', 3600).token;
  const post = (s: number, events: Event[]) =>
    request(servers[s].url, {
      path: '/v1/events',
      json: { events },
      token: token(events[0].userId),
      agent: agents[s],
    });

  beforeAll(async () => {
    dataDirs = [tempDir('edgerec-scale-a-'), tempDir('edgerec-scale-b-')];
    modelsDir = tempDir('edgerec-scale-models-');
    pgSchema = await createPgSchema('edgerec_scale');
    const cwd = tempDir('edgerec-scale-cwd-');
    // Both at once: their migrations meet on the same empty schema. And a token from the CLI, meanwhile.
    const [a, b, minted] = await Promise.all([
      startServeProcess({ dataDir: dataDirs[0], modelsDir, secret, databaseUrl: pgSchema.url }),
      startServeProcess({ dataDir: dataDirs[1], modelsDir, secret, databaseUrl: pgSchema.url }),
      promisify(execFile)(process.execPath, [CLI, 'token', '--user', 'scale-cli', '--data', dataDirs[0]], {
        cwd,
        env: { ...process.env, EDGEREC_SECRET: secret },
      }),
    ]);
    rmSync(cwd, { recursive: true, force: true });
    servers = [a, b];
    cliToken = minted.stdout.trim();
  }, 120_000);

  afterAll(async () => {
    for (const agent of agents) agent.destroy();
    const exits = await Promise.all(servers.map((s) => s.stop()));
    await pgSchema?.drop();
    for (const dir of [...dataDirs, modelsDir]) if (dir) rmSync(dir, { recursive: true, force: true });
    expect(exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
  });

  it('accepts on each process the tokens the other (and the CLI) issued', async () => {
    // `edgerec token` with the shared secret: valid on both.
    for (const s of servers) {
      const settings = await request(s.url, { path: '/v1/users/scale-cli/settings', token: cliToken });
      expect(settings.status, settings.text).toBe(200);
    }
    // An anonymous session opened on A works on B; B renews it; the renewal works on A.
    const opened = await request(servers[0].url, { method: 'POST', path: '/v1/session', json: {} });
    expect(opened.status).toBe(201);
    const session = opened.json<{ userId: string; token: string }>();
    const onB = await request(servers[1].url, {
      path: `/v1/users/${session.userId}/embedding`,
      token: session.token,
    });
    expect(onB.status, onB.text).toBe(200);
    const renewed = await request(servers[1].url, {
      method: 'POST',
      path: '/v1/session/refresh',
      token: session.token,
    });
    expect(renewed.status).toBe(201);
    const onA = await request(servers[0].url, {
      path: `/v1/users/${session.userId}/settings`,
      token: renewed.json<{ token: string }>().token,
    });
    expect(onA.status, onA.text).toBe(200);
    // A token under another secret is refused by both.
    const stranger = new TokenSigner(TokenSigner.generateSecret()).issue('scale-cli', 'user', 3600).token;
    for (const s of servers) {
      const refused = await request(s.url, { path: '/v1/users/scale-cli/settings', token: stranger });
      expect(refused.status).toBe(401);
    }
  });

  it('stores events once across processes, even the same batch sent to both at once', async () => {
    // Alternately to A and B, several in flight.
    const alternate = await Promise.all(
      Array.from({ length: ALTERNATE }, (_, b) => post(b % 2, batchEvents('alt', b))),
    );
    for (const r of alternate) {
      expect(r.status, r.text).toBe(200);
      expect(r.json()).toEqual({ accepted: PER_BATCH, duplicates: 0, conflicts: [] });
    }
    // The same batch to both processes concurrently: one stores it, the other reports duplicates.
    const pairs = await Promise.all(
      Array.from({ length: TWICE }, (_, b) =>
        Promise.all([post(0, batchEvents('twice', b)), post(1, batchEvents('twice', b))]),
      ),
    );
    let storedByA = 0;
    for (const pair of pairs) {
      const [ra, rb] = pair.map((r) => {
        expect(r.status, r.text).toBe(200);
        return r.json<{ accepted: number; duplicates: number; conflicts: [] }>();
      });
      expect(ra.accepted + rb.accepted).toBe(PER_BATCH);
      expect(ra.duplicates + rb.duplicates).toBe(PER_BATCH);
      expect([0, PER_BATCH]).toContain(ra.accepted);
      if (ra.accepted === PER_BATCH) storedByA++;
    }
    // Every alternate batch again, to the process that did not store it: all duplicates.
    const again = await Promise.all(
      Array.from({ length: ALTERNATE }, (_, b) => post((b + 1) % 2, batchEvents('alt', b))),
    );
    for (const r of again) expect(r.json()).toEqual({ accepted: 0, duplicates: PER_BATCH, conflicts: [] });
    console.log(
      `[scale-out] ${ALTERNATE} batches alternately, ${TWICE} to both at once (A stored ${storedByA}, ` +
        `B ${TWICE - storedByA}), ${ALTERNATE} re-sent across: all deduplicated`,
    );

    // Both processes read back the same events, each once.
    const views: string[][] = [];
    for (const s of [0, 1]) {
      const ids: string[] = [];
      for (let u = 0; u < USERS; u++) {
        const userId = `scale-user-${u}`;
        let after = 0;
        for (;;) {
          const page = await request(servers[s].url, {
            path: `/v1/users/${userId}/events?after=${after}&limit=250`,
            token: token(userId),
            agent: agents[s],
          });
          expect(page.status, page.text).toBe(200);
          const { events, next } = page.json<{ events: StoredEvent[]; next: number }>();
          if (events.length === 0) break;
          ids.push(...events.map((e) => `${e.userId}/${e.id}`));
          after = next;
        }
      }
      views.push(ids);
    }
    const expected = (ALTERNATE + TWICE) * PER_BATCH;
    expect(views[0].length).toBe(expected);
    expect(new Set(views[0]).size).toBe(expected);
    expect(views[1]).toEqual(views[0]);
    const [row] = await pgSchema.query<{ n: string; d: string }>(
      "SELECT count(*) AS n, count(DISTINCT user_id || '/' || id) AS d FROM $schema.events",
    );
    expect({ n: Number(row.n), d: Number(row.d) }).toEqual({ n: expected, d: expected });
  });

  it('lets exactly one of two concurrent embedding writes with the same baseVersion win', async () => {
    let wonByA = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const userId = `scale-embed-${round}`;
      const put = (s: number, baseVersion: number) =>
        request(servers[s].url, {
          method: 'PUT',
          path: `/v1/users/${userId}/embedding`,
          token: token(userId),
          agent: agents[s],
          json: { vector: [s, round, baseVersion], modelVersion: `from-${'ab'[s]}`, baseVersion },
        });
      // baseVersion 0 creates the row (unique key decides); 1 advances it (row lock decides).
      for (const baseVersion of [0, 1]) {
        const answers = await Promise.all([put(0, baseVersion), put(1, baseVersion)]);
        const statuses = answers.map((r) => r.status).sort();
        expect(statuses, answers.map((r) => r.text).join('\n')).toEqual([200, 409]);
        const winner = answers.findIndex((r) => r.status === 200);
        if (winner === 0) wonByA++;
        const { device } = answers[winner].json<{ device: DeviceEmbedding }>();
        const loser = answers[1 - winner].json<{ message: string; current: DeviceEmbedding }>();
        expect(device.version).toBe(baseVersion + 1);
        expect(device.vector).toEqual([winner, round, baseVersion]);
        // The refusal names the write that beat it.
        expect(loser.message).toMatch(/stale/);
        expect(loser.current).toEqual(device);
      }
      // Both processes now see the same version 2.
      for (const s of [0, 1]) {
        const seen = await request(servers[s].url, {
          path: `/v1/users/${userId}/embedding`,
          token: token(userId),
        });
        expect(seen.json<{ device: DeviceEmbedding }>().device.version).toBe(2);
      }
    }
    console.log(
      `[scale-out] ${ROUNDS * 2} concurrent embedding write pairs: A won ${wonByA}, B ${ROUNDS * 2 - wonByA}`,
    );
  });
});
