/**
 * The sync server as a real child process (`node bin/edgerec.mjs serve`), for the tests that kill it,
 * signal it or run two of it, plus a small HTTP client over node:http (raw paths, no URL normalisation,
 * explicit timeouts) and throwaway PostgreSQL schemas reachable through `DATABASE_URL` alone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { TokenSigner } from '../../../src/server/auth/index.ts';
import { POSTGRES_URL } from './context.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CLI = join(ROOT, 'bin', 'edgerec.mjs');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A port nothing listens on right now (the kernel's pick; the window before the server binds is tiny). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolvePort(port));
    });
  });
}

/** A shared token secret, as `EDGEREC_SECRET` carries it, and a signer over the same bytes. */
export function sharedSecret(): { hex: string; signer: TokenSigner } {
  const bytes = randomBytes(32);
  return { hex: bytes.toString('hex'), signer: new TokenSigner(bytes) };
}

export interface PgSchema {
  schema: string;
  /** POSTGRES_URL with `options=-c search_path=<schema>`: what a server started by the CLI gets. */
  url: string;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/**
 * A fresh schema the CLI's server keeps its tables in: the pg driver passes the URL's `options`
 * parameter to the server as startup options, so `search_path` points there from the first query.
 */
export async function createPgSchema(prefix: string): Promise<PgSchema> {
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const separator = POSTGRES_URL.includes('?') ? '&' : '?';
  const url = `${POSTGRES_URL}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  return {
    schema,
    url,
    query: async <T extends pg.QueryResultRow>(sql: string, values?: unknown[]) =>
      (await admin.query<T>(sql.replaceAll('$schema', schema), values)).rows,
    drop: async () => {
      try {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.end();
      }
    },
  };
}

export interface ServeProcessOptions {
  dataDir: string;
  modelsDir: string;
  /** `EDGEREC_SECRET`, 64 hex digits. */
  secret: string;
  /** PostgreSQL (DATABASE_URL); SQLite in `<dataDir>/edgerec.db` without one. */
  databaseUrl?: string;
  port?: number;
  /**
   * Keep `edgerec serve`'s default rate limits. Off by default: these processes carry load tests (crash,
   * graceful shutdown, scale-out, bench:server) that send far more batches per user than a device would,
   * and a 429 there would read as a lost batch.
   */
  rateLimits?: boolean;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  /** The last 64 kB the process wrote to stdout and stderr, for failure messages. */
  output(): string;
  /** SIGTERM, and the exit. */
  stop(timeoutMs?: number): Promise<Exit>;
  /** SIGKILL, and the exit. */
  kill(): Promise<Exit>;
}

/**
 * Starts `edgerec serve --quiet` on a free port and resolves once `/healthz` answers 200. The working
 * directory is a throwaway folder: run from the repository root, the CLI would pick up `data/default-run`
 * and its refresh job, which needs a bundle of that run in `--models`.
 */
export async function startServeProcess(options: ServeProcessOptions): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env, EDGEREC_SECRET: options.secret };
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  else delete env.DATABASE_URL;
  const cwd = tempDir('edgerec-cwd-');
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--port',
      String(port),
      '--data',
      options.dataDir,
      '--models',
      options.modelsDir,
      ...(options.rateLimits ? [] : ['--sessions-per-minute', '0', '--batches-per-minute', '0']),
      '--quiet',
    ],
    { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const collect = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-65_536);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<Exit>((resolveExit) => {
    child.once('exit', (code, signal) => {
      rmSync(cwd, { recursive: true, force: true });
      resolveExit({ code, signal });
    });
  });
  let exitedEarly: Exit | undefined;
  exited.then((exit) => {
    exitedEarly = exit;
  });
  const url = `http://127.0.0.1:${port}`;
  const signal = async (name: NodeJS.Signals, timeoutMs: number): Promise<Exit> => {
    if (exitedEarly) return exitedEarly;
    child.kill(name);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`server did not exit within ${timeoutMs} ms of ${name}:\n${log}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const server: ServerProcess = {
    child,
    port,
    url,
    exited,
    output: () => log,
    stop: (timeoutMs = 20_000) => signal('SIGTERM', timeoutMs),
    kill: () => signal('SIGKILL', 10_000),
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (exitedEarly)
      throw new Error(`edgerec serve exited (${JSON.stringify(exitedEarly)}) before it was healthy:\n${log}`);
    try {
      const health = await request(url, { path: '/healthz', timeoutMs: 2000 });
      if (health.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`edgerec serve was not healthy within 90 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface RequestOptions {
  method?: string;
  /** Sent exactly as given: no normalisation of `..` or percent-escapes. */
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  token?: string;
  timeoutMs?: number;
  agent?: http.Agent;
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json<T = unknown>(): T;
}

/**
 * One HTTP request. JSON bodies (objects) get `content-type: application/json`. Rejects on a socket error
 * or when no whole response came within `timeoutMs`; a response that arrives before the server stopped
 * reading an oversized body still counts.
 */
export function request(base: string, options: RequestOptions & { json?: unknown }): Promise<Response> {
  const { method = options.json === undefined && options.body === undefined ? 'GET' : 'POST' } = options;
  const headers: Record<string, string | number> = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (
    body !== undefined &&
    headers['content-length'] === undefined &&
    headers['transfer-encoding'] === undefined
  )
    headers['content-length'] = Buffer.byteLength(body);
  const { hostname, port } = new URL(base);
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise<Response>((resolveResponse, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const req = http.request({
      host: hostname,
      port,
      method,
      path: options.path,
      headers,
      agent: options.agent ?? false,
    });
    const timer = setTimeout(() => {
      settle(() =>
        reject(new Error(`no response to ${method} ${options.path.slice(0, 200)} within ${timeoutMs} ms`)),
      );
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => settle(() => reject(error)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        settle(() =>
          resolveResponse({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: <T>() => JSON.parse(text) as T,
          }),
        );
      });
    });
    req.on('error', (error) => settle(() => reject(error)));
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
