/**
 * Token refresh keeps the subject and role and never outlives the session's maximum age from its first
 * issue; admin tokens do not refresh. Anonymous sessions are limited per IP and event batches per user
 * (429 with Retry-After, in the one error shape); limits are options, and 0 turns them off.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TokenClaims } from '../../src/server/auth/index.ts';
import { DEFAULT_RATE_LIMITS } from '../../src/server/http/limits.ts';
import { type TestServer, testServer } from './support/context.ts';

const models = mkdtempSync(join(tmpdir(), 'edgerec-sessions-models-'));
afterAll(() => rmSync(models, { recursive: true, force: true }));

const claimsOf = (token: string): TokenClaims =>
  JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('token refresh', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await testServer('sqlite', models);
  });
  afterAll(async () => server?.close());
  const refresh = (token: string) =>
    server.app.inject({ method: 'POST', url: '/v1/session/refresh', headers: bearer(token) });

  it('keeps the subject, the role and the session start', async () => {
    const opened = (await server.app.inject({ method: 'POST', url: '/v1/session', payload: {} })).json();
    const first = claimsOf(opened.token);
    const renewed = await refresh(opened.token);
    expect(renewed.statusCode).toBe(201);
    const body = renewed.json();
    expect(body).toMatchObject({ userId: opened.userId, role: 'user' });
    expect(claimsOf(body.token)).toMatchObject({ sub: opened.userId, role: 'user', since: first.since });
    // A refresh of the refreshed token still carries the first issue time.
    expect(claimsOf((await refresh(body.token)).json().token).since).toBe(first.since);
  });

  it('caps the new expiry at the maximum session age, then refuses with 401', async () => {
    const { maxSessionSeconds, tokenTtlSeconds } = server.context;
    const signer = server.context.signer;
    // A session that began (maxSessionSeconds - 600) s ago: 10 minutes left, less than one token lifetime.
    const began = Date.now() - (maxSessionSeconds - 600) * 1000;
    const old = signer.issue('carol', 'user', maxSessionSeconds, began).token;
    const capped = await refresh(old);
    expect(capped.statusCode).toBe(201);
    const ends = Math.floor(began / 1000) + maxSessionSeconds;
    expect(capped.json().expiresAt).toBe(ends * 1000);
    expect(capped.json().expiresAt).toBeLessThan(Date.now() + tokenTtlSeconds * 1000);
    // At the end of the session, refresh is refused: the client must open a new session.
    const spent = signer.issue('carol', 'user', maxSessionSeconds + 3600, began - 3600_000).token;
    const refused = await refresh(spent);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().message).toMatch(/maximum age/);
  });

  it('never refreshes an admin token, however fresh', async () => {
    const refused = await refresh(server.adminToken());
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    expect(refused.json().message).toMatch(/admin tokens do not refresh/);
  });
});

describe('rate limits', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const batch = (userId: string, n: number) => ({
    events: [{ id: `rl-${n}`, userId, itemId: 'i', action: 'click', ts: 1_700_000_000_000 + n }],
  });

  it('limits anonymous sessions per IP with 429, Retry-After and the error shape; admins pass', async () => {
    server = await testServer('sqlite', models, {
      rateLimits: { anonymousSessionsPerIp: 3, windowMs: 60_000 },
    });
    const app = server.app;
    const open = (remoteAddress: string) =>
      app.inject({ method: 'POST', url: '/v1/session', remoteAddress, payload: {} });
    for (let i = 0; i < 3; i++) expect((await open('10.0.0.1')).statusCode).toBe(201);
    const refused = await open('10.0.0.1');
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.json()).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/too many requests: at most 3 per 1 minute/),
    });
    // Another address is counted apart; an admin naming users is not limited.
    expect((await open('10.0.0.2')).statusCode).toBe(201);
    const admin = bearer(server.adminToken());
    for (let i = 0; i < 5; i++) {
      const named = await app.inject({
        method: 'POST',
        url: '/v1/session',
        remoteAddress: '10.0.0.1',
        headers: admin,
        payload: { userId: `named-${i}` },
      });
      expect(named.statusCode).toBe(201);
    }
  });

  it('limits event batches per user, not per address; admin batches pass', async () => {
    server = await testServer('sqlite', models, { rateLimits: { eventBatchesPerUser: 2 } });
    const post = (token: string, body: object) =>
      server!.app.inject({ method: 'POST', url: '/v1/events', headers: bearer(token), payload: body });
    const alice = server.userToken('alice');
    expect((await post(alice, batch('alice', 1))).statusCode).toBe(200);
    expect((await post(alice, batch('alice', 2))).statusCode).toBe(200);
    const refused = await post(alice, batch('alice', 3));
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(await server.context.store.countEvents('alice')).toBe(2);
    expect((await post(server.userToken('bob'), batch('bob', 1))).statusCode).toBe(200);
    const admin = server.adminToken();
    for (let i = 10; i < 15; i++) expect((await post(admin, batch('alice', i))).statusCode).toBe(200);
  });

  it('is on by default with sane limits, and 0 turns each limit off', async () => {
    expect(DEFAULT_RATE_LIMITS).toEqual({
      anonymousSessionsPerIp: 60,
      eventBatchesPerUser: 120,
      windowMs: 60_000,
    });
    server = await testServer('sqlite', models);
    const statuses: number[] = [];
    for (let i = 0; i <= DEFAULT_RATE_LIMITS.anonymousSessionsPerIp; i++)
      statuses.push(
        (await server.app.inject({ method: 'POST', url: '/v1/session', payload: {} })).statusCode,
      );
    expect(statuses.filter((s) => s === 201)).toHaveLength(DEFAULT_RATE_LIMITS.anonymousSessionsPerIp);
    expect(statuses.at(-1)).toBe(429);
    await server.close();

    server = await testServer('sqlite', models, {
      rateLimits: { anonymousSessionsPerIp: 0, eventBatchesPerUser: 0 },
    });
    const alice = server.userToken('alice');
    for (let i = 0; i <= DEFAULT_RATE_LIMITS.eventBatchesPerUser; i++) {
      const response = await server.app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: bearer(alice),
        payload: batch('alice', i),
      });
      expect(response.statusCode).toBe(200);
    }
    for (let i = 0; i <= DEFAULT_RATE_LIMITS.anonymousSessionsPerIp; i++)
      expect((await server.app.inject({ method: 'POST', url: '/v1/session', payload: {} })).statusCode).toBe(
        201,
      );
  });
});
