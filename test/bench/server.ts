/**
 * `npm run bench:server [-- --duration 10] [-- --connections 32] [-- --db sqlite,postgres]
 * [-- --route events,manifest] [-- --json]` — HTTP load on the sync server with autocannon, on loopback,
 * against a real `edgerec serve --quiet` process (the CLI, as deployed), for each database × route:
 *
 * - events: POST /v1/events, 50 events per request, fresh ids for every request, a valid user token;
 * - manifest: GET /v1/manifest over the small real bundle in test/generated/bundle.
 *
 * Reports requests/s, events/s (= requests/s × 50), p99 latency and errors (non-2xx responses plus socket
 * errors and timeouts), then checks that the database holds exactly the events acknowledged (plus those of
 * requests cut off in flight when the run stopped, which committed but whose 200 was never read).
 * The load generator and the server share this machine's cores. With --json, stdout carries exactly one
 * JSON object (`{"rows": [...], "machine": {...}, "config": {...}}`); progress goes to stderr.
 */
import { rmSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { formatTable } from '../../src/cli/report.ts';
import { ACTIONS, type Event } from '../../src/core/events.ts';
import { ensureTinyBundle } from '../server/support/bundle.ts';
import {
  createPgSchema,
  type PgSchema,
  type ServerProcess,
  sharedSecret,
  startServeProcess,
  tempDir,
} from '../server/support/process.ts';
import { benchArgs } from './args.ts';

const DBS = ['sqlite', 'postgres'] as const;
const ROUTES = ['events', 'manifest'] as const;
type Db = (typeof DBS)[number];
type Route = (typeof ROUTES)[number];

const args = benchArgs({
  script: 'bench:server (test/bench/server.ts)',
  flags: {
    duration: { type: 'string', value: 'SECONDS' },
    connections: { type: 'string', value: 'N' },
    db: { type: 'string', value: DBS.join(',') },
    route: { type: 'string', value: ROUTES.join(',') },
    json: { type: 'boolean' },
  },
});
const json = args.values.json ?? false;
const duration = args.number('duration', 10, { above: 0 });
const connections = args.integer('connections', 32, 1);
const dbs: Db[] = args.list('db', DBS, DBS);
const routes: Route[] = args.list('route', ROUTES, ROUTES);

const EVENTS_PER_REQUEST = 50;
const USER = 'bench-user';
const progress = (text: string) => process.stderr.write(`[bench:server] ${text}\n`);
const out = (text: string) => {
  if (!json) process.stdout.write(text);
};

interface Row {
  db: Db;
  route: Route;
  rps: number;
  p99_ms: number;
  errors: number;
  p50_ms: number;
  non2xx: number;
  socket_errors: number;
  requests: number;
  duration_s: number;
  events_per_s?: number;
  events_acknowledged?: number;
  events_stored?: number;
  events_cut_off?: number;
  stored_matches?: boolean;
}

function eventsOf(request: number): Event[] {
  return Array.from({ length: EVENTS_PER_REQUEST }, (_, k) => ({
    id: `r${request}-${k}`,
    userId: USER,
    itemId: `item-${(request * EVENTS_PER_REQUEST + k) % 1000}`,
    action: ACTIONS[k % ACTIONS.length],
    ts: 1_700_000_000_000 + request,
  }));
}

/** Events stored for the bench user, and how many of the given requests' events are among them. */
async function storedEvents(
  db: Db,
  dataDir: string,
  schema: PgSchema | undefined,
  requests: number[],
): Promise<{ total: number; ofRequests: number }> {
  const idsOf = (r: number) => eventsOf(r).map((e) => e.id);
  if (db === 'sqlite') {
    const sqlite = new Database(join(dataDir, 'edgerec.db'), { readonly: true });
    try {
      const total = sqlite
        .prepare('SELECT count(*) FROM events WHERE user_id = ?')
        .pluck()
        .get(USER) as number;
      const marks = Array(EVENTS_PER_REQUEST).fill('?').join(',');
      const count = sqlite
        .prepare(`SELECT count(*) FROM events WHERE user_id = ? AND id IN (${marks})`)
        .pluck();
      let ofRequests = 0;
      for (const r of requests) ofRequests += count.get(USER, ...idsOf(r)) as number;
      return { total, ofRequests };
    } finally {
      sqlite.close();
    }
  }
  const [{ n }] = await schema!.query<{ n: string }>(
    'SELECT count(*) AS n FROM $schema.events WHERE user_id = $1',
    [USER],
  );
  let ofRequests = 0;
  for (const r of requests) {
    const [row] = await schema!.query<{ n: string }>(
      'SELECT count(*) AS n FROM $schema.events WHERE user_id = $1 AND id = ANY($2)',
      [USER, idsOf(r)],
    );
    ofRequests += Number(row.n);
  }
  return { total: Number(n), ofRequests };
}

async function benchEvents(
  url: string,
  token: string,
): Promise<{ result: autocannon.Result; built: number[]; acked: Set<number> }> {
  let serial = 0;
  const built: number[] = [];
  const acked = new Set<number>();
  const result = await autocannon({
    url,
    connections,
    duration,
    requests: [
      {
        method: 'POST',
        path: '/v1/events',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        setupRequest: (request, context) => {
          const n = serial++;
          built.push(n);
          (context as { n?: number }).n = n;
          return { ...request, body: JSON.stringify({ events: eventsOf(n) }) };
        },
        onResponse: (status, _body, context) => {
          if (status === 200) acked.add((context as { n: number }).n);
        },
      },
    ],
  });
  return { result, built, acked };
}

function rowOf(db: Db, route: Route, result: autocannon.Result): Row {
  const requests = result.requests.total;
  const seconds = result.duration;
  return {
    db,
    route,
    rps: Math.round(result.requests.average),
    p99_ms: result.latency.p99,
    errors: result.non2xx + result.errors,
    p50_ms: result.latency.p50,
    non2xx: result.non2xx,
    socket_errors: result.errors,
    requests,
    duration_s: seconds,
  };
}

async function benchDb(db: Db, modelsDir: string): Promise<Row[]> {
  const { hex: secret, signer } = sharedSecret();
  const dataDir = tempDir('edgerec-bench-data-');
  const schema = db === 'postgres' ? await createPgSchema('edgerec_bench') : undefined;
  let server: ServerProcess | undefined;
  const rows: Row[] = [];
  try {
    for (const route of routes) {
      // A fresh process per row (same data), since the events row ends by stopping it.
      server = await startServeProcess({ dataDir, modelsDir, secret, databaseUrl: schema?.url });
      const running = server;
      progress(`${db}: server up at ${running.url} (pid ${running.child.pid})`);
      progress(`${db} × ${route}: ${connections} connections for ${duration} s …`);
      if (route === 'manifest') {
        const result = await autocannon({ url: `${running.url}/v1/manifest`, connections, duration });
        rows.push(rowOf(db, route, result));
        await running.stop();
        server = undefined;
        continue;
      }
      const { result, built, acked } = await benchEvents(running.url, signer.issue(USER, 'user', 3600).token);
      const row = rowOf(db, route, result);
      // Stop the server cleanly first, so every write it acknowledged (or was finishing) has committed.
      const exit = await running.stop();
      server = undefined;
      if (exit.code !== 0) throw new Error(`${db}: the server exited ${JSON.stringify(exit)}`);
      const unacked = built.filter((n) => !acked.has(n));
      const stored = await storedEvents(db, dataDir, schema, unacked);
      const acknowledged = acked.size * EVENTS_PER_REQUEST;
      row.events_per_s = row.rps * EVENTS_PER_REQUEST;
      row.events_acknowledged = acknowledged;
      row.events_stored = stored.total;
      row.events_cut_off = stored.ofRequests;
      row.stored_matches =
        stored.total === acknowledged + stored.ofRequests && stored.ofRequests % EVENTS_PER_REQUEST === 0;
      progress(
        `${db} × events: ${acked.size} requests acknowledged = ${acknowledged} events; the database holds ` +
          `${stored.total} = ${acknowledged} acknowledged + ${stored.ofRequests} from ` +
          `${stored.ofRequests / EVENTS_PER_REQUEST} of the ${unacked.length} requests cut off in flight when the run ` +
          `stopped (committed, 200 never read) → ${row.stored_matches ? 'exact' : 'MISMATCH'}`,
      );
      rows.push(row);
    }
  } finally {
    if (server) await server.stop();
    await schema?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}

const modelsDir = await ensureTinyBundle();
const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  memory_gib: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};
const config = { duration_s: duration, connections, pipelining: 1, events_per_request: EVENTS_PER_REQUEST };
progress(
  `${machine.cpus} cores (${machine.cpu}), node ${machine.node}; ${connections} connections, pipelining 1, ` +
    `${duration} s per row; client and server share the machine`,
);
const rows: Row[] = [];
for (const db of dbs) rows.push(...(await benchDb(db, modelsDir)));

if (json) {
  process.stdout.write(`${JSON.stringify({ rows, machine, config })}\n`);
} else {
  out(
    `\nSync server under load (autocannon, loopback, ${connections} connections, pipelining 1, ${duration} s per row)\n` +
      `${machine.cpus} cores × ${machine.cpu}, ${machine.memory_gib} GiB, node ${machine.node}, ${machine.platform}; ` +
      `load generator and server share the cores\n\n`,
  );
  out(
    formatTable(
      [
        'db',
        'route',
        'req/s',
        'events/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'requests',
        'stored = acked (+ cut off)',
      ],
      rows.map((r) => [
        r.db,
        r.route,
        String(r.rps),
        r.events_per_s === undefined ? '' : String(r.events_per_s),
        String(r.p50_ms),
        String(r.p99_ms),
        String(r.errors),
        String(r.requests),
        r.events_stored === undefined
          ? ''
          : `${r.events_stored} = ${r.events_acknowledged} + ${r.events_cut_off}${r.stored_matches ? '' : ' MISMATCH'}`,
      ]),
    ),
  );
  out('errors = non-2xx responses + socket errors/timeouts; events/s = req/s × 50\n');
}
if (rows.some((r) => r.stored_matches === false || r.errors > 0)) process.exitCode = 1;
