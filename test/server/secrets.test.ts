/**
 * Secrets and leaks: guessable token secrets are refused; `edgerec token` never signs with a secret it
 * just made up; the database and the secret file are private (0600); responses carry security headers;
 * /healthz does not hand out the database's error text; logs never hold a token from a query string or a
 * client's unchecked request id.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSecret, SECRET_ENV } from '../../src/server/auth/index.ts';
import { startServer } from '../../src/server/serve.ts';
import { type TestServer, testServer } from './support/context.ts';
import { CLI, tempDir } from './support/process.ts';

const dirs: string[] = [];
const dir = (prefix: string) => {
  const made = tempDir(prefix);
  dirs.push(made);
  return made;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('token secrets', () => {
  const fromEnv = (value: string) => loadSecret('/nonexistent/secret', { [SECRET_ENV]: value });

  it('refuses guessable secrets with a clear error, in the environment and in the file', () => {
    expect(() => fromEnv('0'.repeat(64))).toThrow(
      /EDGEREC_SECRET looks guessable: only 1 distinct byte values/,
    );
    expect(() => fromEnv('ab'.repeat(32))).toThrow(/guessable/);
    expect(() => fromEnv('0123456789abcdef'.repeat(4))).toThrow(/guessable/);
    expect(() => fromEnv(Buffer.alloc(48, 'secret').toString('base64'))).toThrow(/guessable/);
    expect(() => fromEnv(randomBytes(16).toString('hex'))).toThrow(/at least 32 bytes/);
    const file = join(dir('edgerec-secret-'), 'server-secret');
    writeFileSync(file, `${'00'.repeat(32)}\n`);
    expect(() => loadSecret(file, {})).toThrow(new RegExp(`${file} looks guessable`));
  });

  it('accepts random secrets, hex or base64', () => {
    const bytes = randomBytes(32);
    expect(fromEnv(bytes.toString('hex')).equals(bytes)).toBe(true);
    expect(fromEnv(bytes.toString('base64')).equals(bytes)).toBe(true);
  });

  it('edgerec token refuses a --data folder without a secret, and creates none there', async () => {
    const empty = dir('edgerec-token-empty-');
    const env = { ...process.env };
    delete env[SECRET_ENV];
    const refused = await promisify(execFile)(
      process.execPath,
      [CLI, 'token', '--user', 'u', '--data', empty],
      {
        env,
      },
    ).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(refused?.code).not.toBe(0);
    expect(refused?.stderr).toMatch(
      /no token secret: EDGEREC_SECRET is unset and .*server-secret does not exist/,
    );
    expect(existsSync(join(empty, 'server-secret'))).toBe(false);
  }, 60_000);
});

describe('files on disk', () => {
  it('creates the SQLite database and the secret readable by the owner only (0600)', async () => {
    const data = dir('edgerec-perm-data-');
    const env = process.env[SECRET_ENV];
    delete process.env[SECRET_ENV];
    const running = await startServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: join(data, 'nested'),
      modelsDir: dir('edgerec-perm-models-'),
      refreshMinutes: 15,
    });
    try {
      for (const name of ['edgerec.db', 'server-secret'])
        expect((statSync(join(data, 'nested', name)).mode & 0o777).toString(8), name).toBe('600');
      expect((statSync(join(data, 'nested')).mode & 0o777).toString(8)).toBe('700');
    } finally {
      await running.close();
      if (env !== undefined) process.env[SECRET_ENV] = env;
    }
  });
});

describe('what responses and logs reveal', () => {
  let server: TestServer;
  const lines: string[] = [];
  beforeAll(async () => {
    server = await testServer('sqlite', dir('edgerec-leaks-models-'), {
      logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } },
    });
  });
  afterAll(async () => server?.close());

  it('sends security headers on API answers and lets other origins read bundle files', async () => {
    const response = await server.app.inject({ url: '/healthz' });
    expect(response.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['cross-origin-resource-policy']).toBe('cross-origin');
    const error = await server.app.inject({ url: '/nowhere' });
    expect(error.headers['x-content-type-options']).toBe('nosniff');
  });

  it('/healthz logs the database error and answers a generic message (database failure mocked)', async () => {
    const store = server.context.store;
    const ping = store.ping.bind(store);
    store.ping = async () => {
      throw new Error('connect ECONNREFUSED postgres://edgerec:hunter2@db.internal:5432/prod');
    };
    try {
      const response = await server.app.inject({ url: '/healthz' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({
        status: 'unavailable',
        db: 'sqlite',
        message: 'the database does not answer',
      });
      expect(response.body).not.toContain('hunter2');
      expect(lines.join('')).toContain('hunter2');
    } finally {
      store.ping = ping;
    }
  });

  it('never logs a token passed in a query string, nor an unchecked request id', async () => {
    lines.length = 0;
    const token = server.userToken('alice');
    await server.app.inject({
      url: `/v1/users/alice/events?access_token=${token}&after=0`,
      headers: { 'x-request-id': 'evil\u001b[31m<script>' },
    });
    await server.app.inject({
      url: `/v1/users/alice/events?token=${token}`,
      headers: { authorization: `Bearer ${token}` },
    });
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(2);
    expect(log).not.toContain(token);
    expect(log).not.toContain(token.split('.')[1]);
    expect(log).toContain('access_token=%5Bredacted%5D&after=0');
    expect(log).not.toContain('<script>');
  });
});
