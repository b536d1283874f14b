import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../src/core/bundle/index.ts';
import type { Event } from '../../src/core/events.ts';
import { ensureTinyBundle, latestManifest } from './support/bundle.ts';
import { DB_KINDS, type TestServer, testServer } from './support/context.ts';

let bundleDir: string;
let manifest: BundleManifest;

beforeAll(async () => {
  bundleDir = await ensureTinyBundle();
  manifest = latestManifest(bundleDir);
}, 300_000);

const event = (userId: string, n: number, extra: Partial<Event> = {}): Event => ({
  id: `e-${userId}-${n}`,
  userId,
  itemId: `item-${n % 7}`,
  action: 'click',
  ts: 1_700_000_000_000 + n,
  ...extra,
});

describe.each(DB_KINDS)('sync server API on %s', (kind) => {
  let server: TestServer;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    server = await testServer(kind, bundleDir);
  });
  afterAll(async () => server?.close());

  it('opens anonymous sessions whose tokens reach only their own user', async () => {
    const a = (await server.app.inject({ method: 'POST', url: '/v1/session', payload: {} })).json();
    const opened = await server.app.inject({ method: 'POST', url: '/v1/session', payload: {} });
    expect(opened.statusCode).toBe(201);
    const b = opened.json();
    expect(a.userId).toMatch(/^u-/);
    expect(a.userId).not.toBe(b.userId);
    expect(a.expiresAt).toBeGreaterThan(Date.now() + 3500_000);
    const own = await server.app.inject({
      url: `/v1/users/${a.userId}/embedding`,
      headers: bearer(a.token),
    });
    expect(own.statusCode).toBe(200);
    expect(own.json()).toEqual({ userId: a.userId, server: null, device: null, combined: null });
    const foreign = await server.app.inject({
      url: `/v1/users/${b.userId}/embedding`,
      headers: bearer(a.token),
    });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().message).toMatch(/another user/);
    // Naming a user, or asking for an admin token, needs an admin.
    const named = await server.app.inject({ method: 'POST', url: '/v1/session', payload: { userId: 'x' } });
    expect(named.statusCode).toBe(401);
    const escalate = await server.app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: bearer(a.token),
      payload: { role: 'admin' },
    });
    expect(escalate.statusCode).toBe(403);
    const renewed = await server.app.inject({
      method: 'POST',
      url: '/v1/session/refresh',
      headers: bearer(a.token),
    });
    expect(renewed.statusCode).toBe(201);
    expect(renewed.json().userId).toBe(a.userId);
  });

  it('refuses missing, malformed, forged and expired tokens with 401', async () => {
    const url = '/v1/users/alice/settings';
    const good = server.userToken('alice');
    expect((await server.app.inject({ url, headers: bearer(good) })).statusCode).toBe(200);
    const forged = `${good.split('.')[0]}.${'A'.repeat(43)}`;
    const expired = server.context.signer.issue('alice', 'user', 10, Date.now() - 60_000).token;
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /missing Authorization/],
      [{ authorization: good }, /Bearer <token>/],
      [bearer('nonsense'), /malformed/],
      [bearer(forged), /signature/],
      [bearer(expired), /expired/],
    ];
    for (const [headers, message] of cases) {
      const response = await server.app.inject({ url, headers });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/Bearer/);
      expect(response.json().message).toMatch(message);
    }
  });

  it('stores a batch once however often it is sent, and pages it back in order', async () => {
    const token = server.userToken('carol');
    const events = Array.from({ length: 30 }, (_, n) =>
      event('carol', n, n % 3 === 0 ? { surface: 'home', dwellMs: 1200 } : {}),
    );
    const post = (batch: Event[]) =>
      server.app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: bearer(token),
        payload: { events: batch },
      });
    expect((await post(events)).json()).toEqual({ accepted: 30, duplicates: 0, conflicts: [] });
    expect((await post(events)).json()).toEqual({ accepted: 0, duplicates: 30, conflicts: [] });
    // A retried half batch plus new events, and a repeat inside the batch.
    const mixed = [...events.slice(20), event('carol', 30), event('carol', 30)];
    expect((await post(mixed)).json()).toEqual({ accepted: 1, duplicates: 11, conflicts: [] });

    const pages: Event[] = [];
    let after = 0;
    for (;;) {
      const page = await server.app.inject({
        url: `/v1/users/carol/events?after=${after}&limit=8`,
        headers: bearer(token),
      });
      const body = page.json() as { events: (Event & { seq: number })[]; next: number };
      if (body.events.length === 0) break;
      pages.push(...body.events);
      after = body.next;
    }
    expect(pages.map((e) => e.id)).toEqual([...events, event('carol', 30)].map((e) => e.id));
    expect(pages[0]).toMatchObject({ surface: 'home', dwellMs: 1200, action: 'click' });
    expect('surface' in pages[1]).toBe(false);
  });

  it("refuses another user's events, and a user cannot read them", async () => {
    const token = server.userToken('dave');
    const response = await server.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: bearer(token),
      payload: { events: [event('dave', 1), event('erin', 2)] },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().message).toMatch(/events\[1\]\.userId/);
    expect(await server.context.store.countEvents('dave')).toBe(0);
    expect(await server.context.store.countEvents('erin')).toBe(0);
    const read = await server.app.inject({ url: '/v1/users/erin/events', headers: bearer(token) });
    expect(read.statusCode).toBe(403);
  });

  it('answers a stale embedding write with 409 and the current version', async () => {
    const token = server.userToken('frank');
    const put = (baseVersion: number, vector: number[]) =>
      server.app.inject({
        method: 'PUT',
        url: '/v1/users/frank/embedding',
        headers: bearer(token),
        payload: { vector, modelVersion: manifest.version, baseVersion },
      });
    const first = await put(0, [0.25, -0.5, 0.125]);
    expect(first.statusCode).toBe(200);
    expect(first.json().device).toMatchObject({ version: 1, vector: [0.25, -0.5, 0.125] });
    const second = await put(1, [1, 2, 3]);
    expect(second.json().device.version).toBe(2);
    const stale = await put(1, [9, 9, 9]);
    expect(stale.statusCode).toBe(409);
    expect(stale.json().current).toMatchObject({
      version: 2,
      vector: [1, 2, 3],
      modelVersion: manifest.version,
    });
    expect(stale.json().message).toMatch(/baseVersion 2/);
    const got = await server.app.inject({ url: '/v1/users/frank/embedding', headers: bearer(token) });
    expect(got.json().device.vector).toEqual([1, 2, 3]);
    const other = await server.app.inject({
      method: 'PUT',
      url: '/v1/users/frank/embedding',
      headers: bearer(server.userToken('grace')),
      payload: { vector: [0], modelVersion: 'x', baseVersion: 2 },
    });
    expect(other.statusCode).toBe(403);
  });

  it('reports an event id re-sent with other content in conflicts, keeping the stored event', async () => {
    const headers = bearer(server.userToken('judy'));
    const post = (events: Event[]) =>
      server.app.inject({ method: 'POST', url: '/v1/events', headers, payload: { events } });
    const first = [event('judy', 1), event('judy', 2, { surface: 'home' })];
    expect((await post(first)).json()).toEqual({ accepted: 2, duplicates: 0, conflicts: [] });
    const again = await post([
      event('judy', 1),
      event('judy', 2, { surface: 'search' }),
      event('judy', 3),
      event('judy', 3, { dwellMs: 5 }),
    ]);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ accepted: 1, duplicates: 3, conflicts: ['e-judy-2', 'e-judy-3'] });
    const stored = (await server.app.inject({ url: '/v1/users/judy/events', headers })).json().events;
    expect(stored.map(({ seq: _, ...e }: { seq: number }) => e)).toEqual([...first, event('judy', 3)]);
    const doc = (await server.app.inject({ url: '/v1/openapi.json' })).json();
    const ok = doc.paths['/v1/events'].post.responses['200'].content['application/json'].schema;
    expect(ok.required).toEqual(['accepted', 'duplicates', 'conflicts']);
    expect(ok.properties.conflicts.description).toMatch(/other content/);
  });

  it('privacy mode deletes raw events, refuses new ones and still syncs the embedding', async () => {
    const token = server.userToken('heidi');
    const headers = bearer(token);
    await server.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers,
      payload: { events: [event('heidi', 1), event('heidi', 2)] },
    });
    const on = await server.app.inject({
      method: 'PUT',
      url: '/v1/users/heidi/settings',
      headers,
      payload: { privacy: true },
    });
    expect(on.json()).toMatchObject({ privacy: true, deletedEvents: 2 });
    expect(await server.context.store.countEvents('heidi')).toBe(0);
    const refused = await server.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers,
      payload: { events: [event('heidi', 3)] },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toMatch(/privacy mode/);
    const put = await server.app.inject({
      method: 'PUT',
      url: '/v1/users/heidi/embedding',
      headers,
      payload: { vector: [0.5], modelVersion: manifest.version, baseVersion: 0 },
    });
    expect(put.statusCode).toBe(200);
  });

  it('serves manifests with ETags and files immutable, with ranges', async () => {
    const latest = await server.app.inject({ url: '/v1/bundles/latest.json' });
    expect(latest.json()).toEqual({ version: manifest.version });
    expect(latest.headers['cache-control']).toBe('no-cache');
    const current = await server.app.inject({ url: '/v1/manifest' });
    expect(current.json().version).toBe(manifest.version);
    const etag = current.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const revalidated = await server.app.inject({ url: '/v1/manifest', headers: { 'if-none-match': etag } });
    expect(revalidated.statusCode).toBe(304);
    expect(revalidated.body).toBe('');

    const table = manifest.items.find((t) => t.dtype === 'f32')!;
    const url = `/v1/bundles/${manifest.version}/${table.file}`;
    const whole = await server.app.inject({ url });
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(whole.headers['accept-ranges']).toBe('bytes');
    expect(whole.headers.etag).toBe(`"${table.sha256}"`);
    expect(createHash('sha256').update(whole.rawPayload).digest('hex')).toBe(table.sha256);
    const part = await server.app.inject({ url, headers: { range: 'bytes=100-163' } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-163/${table.bytes}`);
    expect(Buffer.compare(part.rawPayload, whole.rawPayload.subarray(100, 164))).toBe(0);
    const beyond = await server.app.inject({ url, headers: { range: `bytes=${table.bytes + 10}-` } });
    expect(beyond.statusCode).toBe(416);
    const unlisted = await server.app.inject({ url: `/v1/bundles/${manifest.version}/expected.json` });
    expect(unlisted.statusCode).toBe(404);
  });

  it('publishes an uploaded bundle atomically, admin only, checking every hash', async () => {
    const models = mkdtempSync(join(tmpdir(), 'edgerec-registry-'));
    const scratch = await testServer(kind, models);
    try {
      const admin = bearer(scratch.adminToken());
      const base = `/v1/admin/bundles/${manifest.version}`;
      const refs = [
        ...manifest.items.flatMap((t) => (t.scales ? [t, t.scales] : [t])),
        ...manifest.rankers,
        ...manifest.encoders,
        manifest.catalog,
      ];
      const upload = (file: string, body: Buffer, headers = admin) =>
        scratch.app.inject({
          method: 'PUT',
          url: `${base}/files/${file}`,
          headers: { ...headers, 'content-type': 'application/octet-stream' },
          payload: body,
        });
      const user = bearer(scratch.userToken('mallory'));
      expect((await upload(refs[0].file, Buffer.from('x'), user)).statusCode).toBe(403);
      expect((await scratch.app.inject({ url: '/v1/manifest' })).statusCode).toBe(404);
      for (const ref of refs.slice(1)) {
        const bytes = readFileSync(join(bundleDir, manifest.version, ref.file));
        const stored = await upload(ref.file, bytes);
        expect(stored.statusCode).toBe(201);
        expect(stored.json().sha256).toBe(ref.sha256);
      }
      // The first file is corrupted: publishing must refuse, and nothing becomes visible.
      await upload(refs[0].file, Buffer.from('corrupted'));
      const publish = () =>
        scratch.app.inject({ method: 'POST', url: `${base}/publish`, headers: admin, payload: manifest });
      const refused = await publish();
      expect(refused.statusCode).toBe(400);
      expect(refused.json().message).toContain(`${refs[0].file} does not match its sha256`);
      expect((await scratch.app.inject({ url: '/v1/bundles/latest.json' })).statusCode).toBe(404);
      // The failed publish removed its upload folder: nothing lingers, and the retry uploads afresh.
      expect(readdirSync(models)).toEqual([]);
      for (const ref of refs)
        await upload(ref.file, readFileSync(join(bundleDir, manifest.version, ref.file)));
      expect((await publish()).json()).toEqual({ version: manifest.version });
      expect((await scratch.app.inject({ url: '/v1/bundles/latest.json' })).json().version).toBe(
        manifest.version,
      );
      const served = await scratch.app.inject({ url: `/v1/bundles/${manifest.version}/${refs[0].file}` });
      expect(createHash('sha256').update(served.rawPayload).digest('hex')).toBe(refs[0].sha256);
      // Re-publishing the same manifest is a no-op; uploading into a published version is a conflict.
      expect((await publish()).statusCode).toBe(200);
      expect((await upload(refs[0].file, Buffer.from('late'))).statusCode).toBe(409);
    } finally {
      await scratch.close();
      rmSync(models, { recursive: true, force: true });
    }
  });

  it('describes itself: OpenAPI, health and Prometheus metrics', async () => {
    const doc = (await server.app.inject({ url: '/v1/openapi.json' })).json();
    expect(doc.openapi).toBe('3.0.3');
    for (const path of [
      '/v1/events',
      '/v1/users/{userId}/embedding',
      '/v1/bundles/{version}/{file}',
      '/v1/session',
    ])
      expect(Object.keys(doc.paths)).toContain(path);
    expect(
      doc.paths['/v1/events'].post.requestBody.content['application/json'].schema.properties.events.maxItems,
    ).toBe(500);
    const health = (await server.app.inject({ url: '/healthz' })).json();
    expect(health).toEqual({ status: 'ok', db: kind, bundle: manifest.version });
    expect((await server.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    const asUser = await server.app.inject({ url: '/metrics', headers: bearer(server.userToken('ivan')) });
    expect(asUser.statusCode).toBe(403);
    const metrics = await server.app.inject({ url: '/metrics', headers: bearer(server.adminToken()) });
    expect(metrics.headers['content-type']).toMatch(/text\/plain/);
    expect(metrics.body).toMatch(/edgerec_events_accepted_total \d+/);
    expect(metrics.body).toMatch(/edgerec_http_request_duration_seconds_bucket\{.*route="\/v1\/events"/);
  });
});
