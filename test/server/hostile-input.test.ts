/**
 * Strings no database can store (U+0000, lone surrogates) and keys that name prototypes are refused with
 * 400 on every route, on both databases, before anything is stored; odd but valid strings (bidi controls,
 * astral characters) round-trip exactly. Framework errors (414, bad URLs, 415, bad JSON) and 404s answer
 * in the API's one error shape.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../src/core/bundle/index.ts';
import { ensureTinyBundle, latestManifest } from './support/bundle.ts';
import { DB_KINDS, type TestServer, testServer } from './support/context.ts';

let bundleDir: string;
let manifest: BundleManifest;

beforeAll(async () => {
  bundleDir = await ensureTinyBundle();
  manifest = latestManifest(bundleDir);
}, 300_000);

/** The API's one error shape, with the HTTP status repeated in the body. */
function expectErrorShape(response: LightMyRequestResponse, status: number): string {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.json();
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'statusCode']);
  expect(body.statusCode).toBe(status);
  expect(typeof body.error).toBe('string');
  expect(body.message.length).toBeGreaterThan(5);
  return body.message;
}

/** JSON text whose string values carry escape sequences as written (`\u0000`, `\ud800`). */
const rawEvent = (fields: Record<string, string>) =>
  `{${Object.entries({
    id: '"h-1"',
    userId: '"alice"',
    itemId: '"item-1"',
    action: '"click"',
    ts: '1700000000000',
    ...fields,
  })
    .map(([k, v]) => `"${k}":${v}`)
    .join(',')}}`;

describe.each(DB_KINDS)('hostile strings on %s', (kind) => {
  let server: TestServer;
  let alice: Record<string, string>;
  let admin: Record<string, string>;
  const send = (options: InjectOptions) => server.app.inject(options);

  beforeAll(async () => {
    server = await testServer(kind, bundleDir);
    alice = { authorization: `Bearer ${server.userToken('alice')}`, 'content-type': 'application/json' };
    admin = { authorization: `Bearer ${server.adminToken()}`, 'content-type': 'application/json' };
  });
  afterAll(async () => server?.close());

  const HOSTILE = [
    ['\\u0000', /U\+0000/],
    ['\\ud800', /lone UTF-16 surrogate/],
    ['\\udfff', /lone UTF-16 surrogate/],
    ['\\udc00\\ud800', /lone UTF-16 surrogate/],
  ] as const;

  it('refuses NUL and lone surrogates in every event field, naming the field, and stores nothing', async () => {
    for (const field of ['id', 'userId', 'itemId', 'surface'])
      for (const [escaped, says] of HOSTILE) {
        const payload = `{"events":[${rawEvent({ id: '"ok-1"' })},${rawEvent({ [field]: `"a${escaped}b"` })}]}`;
        const message = expectErrorShape(
          await send({ method: 'POST', url: '/v1/events', headers: alice, payload }),
          400,
        );
        expect(message).toMatch(says);
        expect(message).toContain(`body/events/1/${field}`);
      }
    expect(await server.context.store.countEvents()).toBe(0);
  });

  it('refuses them in the embedding, session and publish bodies, in keys, and in URLs', async () => {
    const bodies: [string, string, Record<string, string>, string][] = [
      [
        'PUT',
        '/v1/users/alice/embedding',
        alice,
        '{"vector":[0.1],"modelVersion":"v\\u0000","baseVersion":0}',
      ],
      ['POST', '/v1/session', admin, '{"userId":"bob\\ud800"}'],
      ['POST', '/v1/admin/bundles/v1/publish', admin, '{"version":"v1\\u0000"}'],
      ['POST', '/v1/events', alice, '{"events":[{"a\\u0000":1}]}'],
    ];
    for (const [method, url, headers, payload] of bodies) {
      const message = expectErrorShape(await send({ method, url, headers, payload }), 400);
      expect(message).toMatch(/U\+0000|lone UTF-16 surrogate/);
    }
    const urls = [
      '/v1/users/al%00ice/settings',
      '/v1/users/alice/events?after=%00',
      `/v1/bundles/${manifest.version}/a%00b`,
      '/v1/users/alice/embedding?x=%F0%9F%98%80%00',
    ];
    for (const url of urls) {
      const message = expectErrorShape(await send({ url, headers: alice }), 400);
      expect(message).toMatch(/(params|querystring)\/\w+ contains U\+0000/);
    }
    // A lone surrogate cannot even be percent-encoded as UTF-8: the router refuses the URL, in our shape.
    expectErrorShape(await send({ url: '/v1/users/a%ED%A0%80/settings', headers: alice }), 400);
    expect(await server.context.store.deviceEmbedding('alice')).toBeUndefined();
  });

  it('refuses bodies that are not UTF-8 (overlong, CESU-8 surrogates, truncated) without storing', async () => {
    const valid = Buffer.from(rawEvent({}));
    for (const bad of [
      [0xc0, 0xaf], // overlong "/"
      [0xe0, 0x80, 0xaf], // overlong "/", three bytes
      [0xed, 0xa0, 0x80], // a surrogate encoded as UTF-8
      [0xf8, 0x88, 0x80, 0x80, 0x80], // a five-byte form
      [0xe2, 0x82], // truncated
    ]) {
      const payload = Buffer.concat([
        Buffer.from('{"events":['),
        valid.subarray(0, valid.indexOf('item-1') + 4),
        Buffer.from(bad),
        valid.subarray(valid.indexOf('item-1') + 4),
        Buffer.from(']}'),
      ]);
      const message = expectErrorShape(
        await send({ method: 'POST', url: '/v1/events', headers: alice, payload }),
        400,
      );
      expect(message).toBe('body is not valid UTF-8');
    }
    expect(await server.context.store.countEvents()).toBe(0);
  });

  it('stores odd but valid strings exactly: bidi controls, astral characters, U+FFFF, escapes', async () => {
    const odd = [
      '\u202Eevil\u202C',
      '\u2066x\u2069',
      'emoji 😀 𝄞',
      '\uFFFF\uFFFE',
      'tab\tnew\nline',
      'x'.repeat(256),
    ];
    const events = odd.map((text, i) => ({
      id: `odd-${i}-${text.slice(0, 200)}`,
      userId: 'alice',
      itemId: text,
      action: 'click',
      ts: 1_700_000_000_000 + i,
      surface: text.slice(0, 64),
    }));
    const stored = await send({ method: 'POST', url: '/v1/events', headers: alice, payload: { events } });
    expect(stored.statusCode, stored.body).toBe(200);
    expect(stored.json()).toEqual({ accepted: odd.length, duplicates: 0, conflicts: [] });
    const back = await send({ url: '/v1/users/alice/events?limit=100', headers: alice });
    expect(back.json().events.map(({ seq: _, ...e }: { seq: number }) => e)).toEqual(events);
  });

  it('refuses prototype keys anywhere in a body, saying so (not "invalid JSON")', async () => {
    const cases = [
      '{"events":[],"__proto__":{"admin":true}}',
      `{"events":[${rawEvent({ constructor: '{"prototype":{"x":1}}' })}]}`,
      `{"events":[${rawEvent({ prototype: '1' })}]}`,
      '{"__proto__":null}',
    ];
    for (const payload of cases) {
      const message = expectErrorShape(
        await send({ method: 'POST', url: '/v1/events', headers: alice, payload }),
        400,
      );
      expect(message).toMatch(/has the key "(__proto__|constructor|prototype)": prototype keys are refused/);
      expect(message).not.toMatch(/not valid JSON/);
    }
    const session = await send({
      method: 'POST',
      url: '/v1/session',
      headers: admin,
      payload: '{"__proto__":{"role":"admin"}}',
    });
    expect(expectErrorShape(session, 400)).toMatch(/__proto__/);
  });
});

describe('framework errors in the one error shape', () => {
  let server: TestServer;
  let alice: Record<string, string>;

  beforeAll(async () => {
    server = await testServer('sqlite', bundleDir);
    alice = { authorization: `Bearer ${server.userToken('alice')}` };
  });
  afterAll(async () => server?.close());

  it('answers 414, bad URLs, 404, 415, bad and empty JSON as {statusCode, error, message}', async () => {
    const inject = (options: InjectOptions) => server.app.inject(options);
    expect(
      expectErrorShape(await inject({ url: `/v1/users/${'x'.repeat(300)}/settings`, headers: alice }), 414),
    ).toMatch(/too long|length/i);
    expectErrorShape(await inject({ url: '/v1/users/%E0%A4%A/settings', headers: alice }), 400);
    expect(expectErrorShape(await inject({ method: 'DELETE', url: '/v1/events' }), 404)).toMatch(/no route/);
    expectErrorShape(
      await inject({
        method: 'POST',
        url: '/v1/events',
        headers: { ...alice, 'content-type': 'application/xml' },
        payload: '<events/>',
      }),
      415,
    );
    const json = { ...alice, 'content-type': 'application/json' };
    expect(
      expectErrorShape(
        await inject({ method: 'POST', url: '/v1/events', headers: json, payload: '{"events":' }),
        400,
      ),
    ).toMatch(/^body is not valid JSON/);
    expect(
      expectErrorShape(await inject({ method: 'POST', url: '/v1/events', headers: json, payload: '' }), 400),
    ).toMatch(/empty/);
  });

  it("keeps a client's plain x-request-id and replaces any other with a fresh one", async () => {
    const id = async (value: string) =>
      (await server.app.inject({ url: '/healthz', headers: { 'x-request-id': value } })).headers[
        'x-request-id'
      ];
    expect(await id('trace-0af7651916cd43dd8448eb211c80319c')).toBe('trace-0af7651916cd43dd8448eb211c80319c');
    for (const bad of ['<script>alert(1)</script>', 'a b', 'x'.repeat(129), '{"level":60}', 'ü'])
      expect(await id(bad)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
