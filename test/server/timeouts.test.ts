/**
 * Connection timeouts over real sockets: a client that sends its headers and half its body, then stalls,
 * is disconnected once the idle timeout passes, instead of holding a connection forever; the server goes on
 * answering others. The defaults are set (none is 0, Node's "never").
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUTS } from '../../src/server/http/limits.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { request, tempDir } from './support/process.ts';

const IDLE_MS = 1000;

describe('timeouts', () => {
  let server: RunningServer;
  const dirs = [tempDir('edgerec-timeouts-data-'), tempDir('edgerec-timeouts-models-')];
  beforeAll(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: dirs[0],
      modelsDir: dirs[1],
      refreshMinutes: 15,
      timeouts: { idleMs: IDLE_MS, headersMs: 2000, requestMs: 4000 },
    });
  });
  afterAll(async () => {
    await server?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('closes a connection whose body stalls halfway, within the idle timeout', async () => {
    const { port } = new URL(server.url);
    const token = server.context.signer.issue('slow', 'user', 600).token;
    const body = JSON.stringify({
      events: [{ id: 'slow-1', userId: 'slow', itemId: 'i', action: 'click', ts: 1_700_000_000_000 }],
    });
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const started = performance.now();
    socket.write(
      `POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, body.length / 2)}`,
    );
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const guard = setTimeout(
        () => reject(new Error('the stalled connection was still open after 10 s')),
        10_000,
      );
      socket.once('close', () => {
        clearTimeout(guard);
        resolve(performance.now() - started);
      });
    });
    // Closed by the idle timeout: not before it, and well before the request timeout (4 s).
    expect(closedAfter).toBeGreaterThanOrEqual(IDLE_MS * 0.9);
    expect(closedAfter).toBeLessThan(IDLE_MS + 2000);
    // Nothing was stored from the half body, and the server still answers.
    expect(await server.context.store.countEvents('slow')).toBe(0);
    expect(Buffer.concat(received).toString()).not.toMatch(/^HTTP\/1\.1 200/);
    const health = await request(server.url, { path: '/healthz' });
    expect(health.status).toBe(200);
  });

  it('sets every timeout by default (0 would mean never)', () => {
    for (const value of Object.values(DEFAULT_TIMEOUTS)) expect(value).toBeGreaterThan(0);
    const http = server.app.server;
    expect(http.requestTimeout).toBe(4000);
    expect(http.headersTimeout).toBe(2000);
    expect(http.timeout).toBe(IDLE_MS);
    expect(http.keepAliveTimeout).toBe(DEFAULT_TIMEOUTS.keepAliveMs);
  });
});
