/**
 * Over 1,000 generated bad requests (seeded, so a failure reproduces) against one running server, over
 * real HTTP: wrong types, missing and unknown fields, oversized batches and bodies, malformed JSON, wrong
 * content types, bad tokens, other users' data, stale and malformed embeddings, bad query strings, path
 * traversal on the bundle files route, unknown routes and methods. Every one must get a 4xx whose JSON body
 * says what was wrong: never a 5xx, never a hang. Afterwards the server is still healthy and still stores a
 * valid batch.
 *
 * Then 5,000 more, in-process with `inject` (no sockets, so volume is cheap): valid JSON carrying hostile
 * strings (NUL, lone surrogates, bidi controls, very long ones) in every field, path and query string,
 * prototype and unstorable keys, bodies that are not UTF-8 (overlong, encoded surrogates, cut sequences),
 * and hostile version names on the publish routes (support/hostile-cases.ts). Unstorable strings must be
 * refused with 400, nothing may answer 5xx, every refusal is in the one error shape, what was stored reads
 * back exactly, and the bundles folder is unchanged.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundleManifest } from '../../src/core/bundle/index.ts';
import { Random } from '../../src/core/random.ts';
import { TokenSigner } from '../../src/server/auth/index.ts';
import { manifestFiles } from '../../src/server/registry/index.ts';
import { type RunningServer, startServer } from '../../src/server/serve.ts';
import { ensureTinyBundle } from './support/bundle.ts';
import { DB_KINDS, type DbKind } from './support/context.ts';
import { checkHostile, type HostileCase, hostileCases } from './support/hostile-cases.ts';
import { createPgSchema, type PgSchema, request, tempDir } from './support/process.ts';

const SEED = 20_261_201;
const MIN_REQUESTS = 1000;
/** Hostile strings, keys, bytes and version names: sent with `inject` (no sockets), so many are cheap. */
const MIN_HOSTILE_REQUESTS = 5000;
const CAROL = 'fuzz-carol';
const CONCURRENCY = 16;
const MiB = 1024 * 1024;

interface Case {
  category: string;
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** The exact status (or the statuses) that are right, where it matters. */
  status?: number | readonly number[];
  /** What the message must mention. */
  mentions?: RegExp;
}

interface Fixture {
  manifest: BundleManifest;
  version: string;
  listedFile: string;
  alice: string;
  bob: string;
  admin: string;
  expired: string;
  foreignSigned: string;
  forged: (claims: object) => string;
}

const ALICE = 'fuzz-alice';
const BOB = 'fuzz-bob';
const json = (value: unknown) => JSON.stringify(value);
const jsonHeaders = (token?: string): Record<string, string> => ({
  'content-type': 'application/json',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

let eventSerial = 0;
function validEvent(userId = ALICE): Record<string, unknown> {
  eventSerial++;
  return {
    id: `fz-${eventSerial}`,
    userId,
    itemId: `item-${eventSerial % 50}`,
    action: 'click',
    ts: 1_700_000_000_000 + eventSerial,
  };
}

const pick = <T>(random: Random, values: readonly T[]): T => values[random.int(values.length)];

/** Wrong values per event field; `$RAW:` strings are spliced into the JSON text unquoted. */
const ID_BAD: unknown[] = [0, 1.5, true, false, null, {}, [], ['a'], '', 'x'.repeat(257), { $ne: null }];
const FIELD_BAD: Record<string, unknown[]> = {
  id: ID_BAD,
  userId: [0, true, null, {}, [], '', 'x'.repeat(257)],
  itemId: ID_BAD,
  action: ['like', 'CLICK', '', 'click ', 0, null, true, ['click'], {}],
  ts: ['1700000000000', '', -1, -0.001, 8.64e15 + 1, true, null, {}, [], '$RAW:1e400', '$RAW:-1e400'],
  surface: [0, true, null, {}, [], 'x'.repeat(65)],
  dwellMs: [-1, 8.64e7 + 1, '5', '', null, true, {}, [], '$RAW:1e999'],
};
const REQUIRED = ['id', 'userId', 'itemId', 'action', 'ts'];

function withRaw(value: unknown): string {
  let text = json(value);
  text = text.replace(/"\$RAW:([^"]*)"/g, '$1');
  return text;
}

function eventsCase(
  category: string,
  name: string,
  body: unknown,
  token: string | undefined,
  extra: Partial<Case> = {},
): Case {
  return {
    category,
    name,
    method: 'POST',
    path: '/v1/events',
    headers: jsonHeaders(token),
    body: typeof body === 'string' ? body : withRaw(body),
    ...extra,
  };
}

/** A batch of valid events with one bad one at a random position. */
function batchWith(random: Random, bad: Record<string, unknown>): { events: unknown[] } {
  const events: unknown[] = Array.from({ length: random.int(20) }, () => validEvent());
  events.splice(random.int(events.length + 1), 0, bad);
  return { events };
}

type Factory = (random: Random, f: Fixture) => Case;

/** One factory per kind of bad request; each call draws its details from the seeded generator. */
function factories(f: Fixture): Record<string, Factory[]> {
  const user = (path: string) => `/v1/users/${ALICE}${path}`;
  const embeddingPut = (body: string, token = f.alice, userId = ALICE): Case => ({
    category: 'embedding',
    name: body.slice(0, 60),
    method: 'PUT',
    path: `/v1/users/${userId}/embedding`,
    headers: jsonHeaders(token),
    body,
    status: 400,
  });
  const authedRoutes: { method: string; path: string; body?: () => string }[] = [
    { method: 'POST', path: '/v1/events', body: () => json({ events: [validEvent()] }) },
    { method: 'GET', path: user('/events') },
    { method: 'GET', path: user('/embedding') },
    {
      method: 'PUT',
      path: user('/embedding'),
      body: () => json({ vector: [0.1, 0.2], modelVersion: 'v', baseVersion: 7 }),
    },
    { method: 'GET', path: user('/settings') },
    { method: 'PUT', path: user('/settings'), body: () => json({ privacy: false }) },
    { method: 'POST', path: '/v1/session/refresh' },
    { method: 'POST', path: '/v1/admin/refresh' },
  ];
  const badAuthorizations = (): string[] => [
    '',
    'Bearer',
    'Bearer ',
    'Bearer  .',
    'Basic YWxpY2U6c2VjcmV0',
    `Token ${f.alice}`,
    `Bearer ${f.alice} extra`,
    `Bearer ${f.alice.slice(0, -1)}${f.alice.endsWith('A') ? 'B' : 'A'}`,
    `Bearer ${f.alice.split('.')[0]}.${f.bob.split('.')[1]}`,
    `Bearer ${f.bob.split('.')[0]}.${f.alice.split('.')[1]}`,
    `Bearer ${f.expired}`,
    `Bearer ${f.foreignSigned}`,
    `Bearer ${f.forged({ sub: '', role: 'user', exp: 4e9 })}`,
    `Bearer ${f.forged({ sub: ALICE, role: 'root', exp: 4e9 })}`,
    `Bearer ${f.forged({ sub: ALICE, role: 'user', exp: '4e9' })}`,
    `Bearer ${f.forged({ sub: ALICE, role: 'user' })}`,
    `Bearer ${f.forged({ sub: 42, role: 'user', exp: 4e9 })}`,
    `Bearer ${'a'.repeat(3000)}.${'b'.repeat(43)}`,
    'Bearer not-a-token',
    'Bearer a.b.c',
    `Bearer ${Buffer.from('null').toString('base64url')}.${'A'.repeat(43)}`,
  ];

  return {
    'event field type': [
      (random) => {
        const field = pick(random, Object.keys(FIELD_BAD));
        const value = pick(random, FIELD_BAD[field]);
        const bad = { ...validEvent(), [field]: value };
        return eventsCase(
          'event field type',
          `${field}=${withRaw(value).slice(0, 40)}`,
          batchWith(random, bad),
          f.alice,
          {
            status: 400,
            mentions: new RegExp(field),
          },
        );
      },
    ],
    'event missing field': [
      (random) => {
        const field = pick(random, REQUIRED);
        const bad = validEvent();
        delete bad[field];
        return eventsCase('event missing field', `no ${field}`, batchWith(random, bad), f.alice, {
          status: 400,
          mentions: new RegExp(field),
        });
      },
    ],
    'unknown field': [
      (random) => {
        const name = pick(random, ['foo', 'seq', 'userID', '__meta', 'received_at', 'Constructor']);
        return eventsCase(
          'unknown field',
          `event.${name}`,
          batchWith(random, { ...validEvent(), [name]: 1 }),
          f.alice,
          {
            status: 400,
            mentions: new RegExp(`unknown field "${name}"`),
          },
        );
      },
      (random) => {
        const name = pick(random, ['extra', 'user', 'batch']);
        return eventsCase(
          'unknown field',
          'top-level extra',
          { events: [validEvent()], [name]: true },
          f.alice,
          {
            status: 400,
            mentions: new RegExp(`^body has an unknown field "${name}"`),
          },
        );
      },
    ],
    'batch shape': [
      (random) => {
        const n = 501 + random.int(200);
        return eventsCase(
          'batch shape',
          `${n} events`,
          { events: Array.from({ length: n }, () => validEvent()) },
          f.alice,
          { status: 400, mentions: /500/ },
        );
      },
      (random) => {
        const body = pick(random, [
          { events: [] },
          { events: {} },
          { events: 'x' },
          { events: null },
          { events: [null] },
          { events: [[]] },
          { events: [1, 2] },
          {},
          [],
          [validEvent()],
          null,
          'events',
          42,
          true,
        ]);
        return eventsCase('batch shape', json(body).slice(0, 40), json(body), f.alice, {
          status: 400,
          mentions: /body|events/,
        });
      },
      () => ({
        category: 'batch shape',
        name: 'empty JSON body',
        method: 'POST',
        path: '/v1/events',
        headers: jsonHeaders(f.alice),
        body: '',
        status: 400,
        mentions: /empty/i,
      }),
      () => ({
        category: 'batch shape',
        name: 'no body',
        method: 'POST',
        path: '/v1/events',
        headers: { authorization: `Bearer ${f.alice}` },
        status: 400,
        mentions: /body/,
      }),
    ],
    'huge body': [
      (random) => {
        // Valid JSON, just too large: one event whose padding takes it past 1 MiB.
        const size = MiB + 1 + random.int(MiB);
        const body = json({ events: [{ ...validEvent(), surface: 'x'.repeat(size) }] });
        return eventsCase('huge body', `${(body.length / MiB).toFixed(2)} MiB`, body, f.alice, {
          status: 413,
          mentions: /large|limit/i,
        });
      },
      (random) => {
        // Declared larger than the limit: refused before a byte of the body is read.
        const length = 2 * MiB + random.int(100 * MiB);
        return {
          category: 'huge body',
          name: `content-length ${length}, body short`,
          method: 'POST',
          path: '/v1/events',
          headers: { ...jsonHeaders(f.alice), 'content-length': length },
          body: '{"events":[]}',
          status: 413,
          mentions: /large|limit/i,
        };
      },
    ],
    'malformed JSON': [
      (random) => {
        const valid = json({ events: [validEvent()] });
        const body = pick(random, [
          '{',
          '{"events": [',
          valid.slice(0, 1 + random.int(valid.length - 2)),
          "{'events': []}",
          '{"events": [],}',
          '{events: []}',
          'NaN',
          '{"events": [NaN]}',
          '{"events": [{"id": "a", "ts": 0x10}]}',
          `${valid}garbage`,
          `${valid}${valid}`,
          '\u0000',
          '{"events": "\\x"}',
          '{"events": [{"id": "\\ud800"]}',
          `{"events":${'['.repeat(10_000)}`,
          'undefined',
          '[object Object]',
        ]);
        return eventsCase('malformed JSON', body.slice(0, 40), body, f.alice, { status: 400 });
      },
      (random) => {
        const bytes = Buffer.alloc(1 + random.int(512));
        for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(256);
        return eventsCase(
          'malformed JSON',
          `${bytes.length} random bytes`,
          bytes.toString('latin1'),
          f.alice,
          {
            body: bytes,
            status: 400,
          },
        );
      },
      (random) => {
        const body = pick(random, [
          `{"__proto__": {"admin": true}, "events": [${json(validEvent())}]}`,
          `{"events": [${json(validEvent())}], "constructor": {"prototype": {"admin": true}}}`,
          `{"events": [{"__proto__": {"x": 1}, ${json(validEvent()).slice(1)}]}`,
        ]);
        return eventsCase('malformed JSON', 'prototype poisoning', body, f.alice, {
          status: 400,
          mentions: /prototype keys are refused/,
        });
      },
      (random) => {
        const depth = 5000 + random.int(5000);
        const body = `{"events":[${'['.repeat(depth)}${']'.repeat(depth)}]}`;
        return eventsCase('malformed JSON', `nested ${depth} deep`, body, f.alice, { status: 400 });
      },
    ],
    'content type': [
      (random) => {
        const type = pick(random, [
          'text/plain',
          'text/json',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=xyz',
          'application/xml',
          'application/octet-stream',
          'application/jsonx',
          'image/png',
          'json',
          'application/',
        ]);
        return eventsCase('content type', type, json({ events: [validEvent()] }), undefined, {
          headers: { 'content-type': type, authorization: `Bearer ${f.alice}` },
          // fastify parses text/plain as a string, which the schema then refuses.
          status: type === 'text/plain' ? 400 : 415,
          mentions: type === 'text/plain' ? /body must be object/ : /media type|content-type/i,
        });
      },
      () =>
        eventsCase('content type', 'no content-type', json({ events: [validEvent()] }), undefined, {
          headers: { authorization: `Bearer ${f.alice}` },
        }),
    ],
    auth: [
      (random) => {
        const route = pick(random, authedRoutes);
        const authorization = pick(random, badAuthorizations());
        return {
          category: 'auth',
          name: `${route.method} ${route.path} [${authorization.slice(0, 24)}]`,
          method: route.method,
          path: route.path,
          headers: {
            ...(route.body ? { 'content-type': 'application/json' } : {}),
            ...(authorization ? { authorization } : {}),
          },
          body: route.body?.(),
          status: 401,
          mentions: /token|authorization|bearer/i,
        };
      },
    ],
    'other user': [
      (random) => {
        const events = Array.from({ length: 1 + random.int(10) }, () => validEvent());
        events[random.int(events.length)] = validEvent(
          pick(random, [BOB, 'someone', `${ALICE} `, ALICE.toUpperCase()]),
        );
        return eventsCase('other user', 'foreign event in batch', { events }, f.alice, {
          status: 403,
          mentions: /userId|own/,
        });
      },
      (random) => {
        const [method, path, body] = pick(random, [
          ['GET', `/v1/users/${BOB}/events`, undefined],
          ['GET', `/v1/users/${BOB}/events?after=0&limit=10`, undefined],
          ['GET', `/v1/users/${BOB}/embedding`, undefined],
          ['PUT', `/v1/users/${BOB}/embedding`, json({ vector: [1, 2], modelVersion: 'v', baseVersion: 0 })],
          ['GET', `/v1/users/${BOB}/settings`, undefined],
          ['PUT', `/v1/users/${BOB}/settings`, json({ privacy: true })],
        ] as const);
        return {
          category: 'other user',
          name: `${method} ${path}`,
          method,
          path,
          headers: jsonHeaders(f.alice),
          body,
          status: 403,
          mentions: /another user/,
        };
      },
      (random) => {
        const [method, path, body] = pick(random, [
          ['POST', '/v1/session', json({ userId: BOB })],
          ['POST', '/v1/session', json({ role: 'admin' })],
          ['POST', '/v1/session', json({ ttlSeconds: 3600 })],
          ['POST', '/v1/admin/refresh', undefined],
          ['POST', `/v1/admin/bundles/${f.version}/publish`, json({ version: f.version })],
          ['PUT', '/v1/admin/bundles/v9/files/a.bin', 'bytes'],
        ] as const);
        return {
          category: 'other user',
          name: `user token: ${method} ${path}`,
          method,
          path,
          headers: {
            'content-type': path.includes('/files/') ? 'application/octet-stream' : 'application/json',
            authorization: `Bearer ${f.alice}`,
          },
          body,
          status: 403,
          mentions: /admin/,
        };
      },
    ],
    'stale embedding': [
      (random) => {
        // The fixture wrote version 1; any base but 1 is stale (0 says "I have seen none").
        const base = pick(random, [0, 2, 3, 10, 1000, 2 ** 31, 2 ** 53, 1e19]);
        return {
          category: 'stale embedding',
          name: `baseVersion ${base}`,
          method: 'PUT',
          path: user('/embedding'),
          headers: jsonHeaders(f.alice),
          body: json({ vector: [random.next(), random.next()], modelVersion: f.version, baseVersion: base }),
          status: 409,
          mentions: /stale/,
        };
      },
    ],
    embedding: [
      (random) => {
        const vector = pick(random, [
          '[]',
          '["NaN"]',
          '[null]',
          '["1"]',
          '[true]',
          '[1e400]',
          '[0.5, -1e400]',
          '[1, {}]',
          '[[1]]',
          `[${Array.from({ length: 1025 }, () => '0.1').join(',')}]`,
          `[${Array.from({ length: 1025 + random.int(5000) }, () => '0').join(',')}]`,
          '"0.1,0.2"',
          '{"0": 1}',
          'null',
          '0.5',
        ]);
        return embeddingPut(`{"vector": ${vector}, "modelVersion": "v", "baseVersion": 1}`);
      },
      (random) =>
        embeddingPut(
          pick(random, [
            '{"vector": [0.1], "modelVersion": "", "baseVersion": 1}',
            `{"vector": [0.1], "modelVersion": "${'m'.repeat(129)}", "baseVersion": 1}`,
            '{"vector": [0.1], "modelVersion": 5, "baseVersion": 1}',
            '{"vector": [0.1], "baseVersion": 1}',
            '{"vector": [0.1], "modelVersion": "v"}',
            '{"modelVersion": "v", "baseVersion": 1}',
            '{"vector": [0.1], "modelVersion": "v", "baseVersion": -1}',
            '{"vector": [0.1], "modelVersion": "v", "baseVersion": 1.5}',
            '{"vector": [0.1], "modelVersion": "v", "baseVersion": "1"}',
            '{"vector": [0.1], "modelVersion": "v", "baseVersion": null}',
            '{"vector": [0.1], "modelVersion": "v", "baseVersion": 1e400}',
            '{"vector": [0.1], "modelVersion": "v", "baseVersion": 1, "version": 2}',
            '{"vector": [0.1], "modelVersion": "v", "baseVersion": 1, "userId": "fuzz-bob"}',
            '[]',
            '{}',
          ]),
        ),
    ],
    'query string': [
      (random) => {
        const query = pick(random, [
          'limit=-1',
          'limit=abc',
          'limit=0',
          'limit=1001',
          'limit=1.5',
          'limit=1e400',
          'limit=Infinity',
          'limit=true',
          'after=-1',
          'after=1e400',
          'after=abc',
          'after=1.5',
          'after=-0.5',
          'after=NaN',
          'after=1e19',
          'after=9223372036854775808',
          'after=9007199254740993',
          'foo=bar',
          'after=1&limit=2&x=3',
          'limit=1&limit=2',
          'after[]=1',
          'after[x]=1',
        ]);
        return {
          category: 'query string',
          name: query,
          method: 'GET',
          path: `${user('/events')}?${query}`,
          headers: jsonHeaders(f.alice),
          status: 400,
          mentions: /querystring/,
        };
      },
    ],
    'files route': [
      (random) => {
        const v = f.version;
        const path = pick(random, [
          '/v1/bundles/../latest.json',
          '/v1/bundles/../package.json',
          `/v1/bundles/${v}/../../package.json`,
          `/v1/bundles/${v}/..%2f..%2fpackage.json`,
          `/v1/bundles/${v}/%2e%2e%2f%2e%2e%2fpackage.json`,
          `/v1/bundles/${v}/..%5c..%5cpackage.json`,
          `/v1/bundles/${v}/%2e%2e%5c%2e%2e%5cpackage.json`,
          '/v1/bundles/%2e%2e/package.json',
          '/v1/bundles/%2e%2e/%2e%2e',
          '/v1/bundles/..%2f..%2f/package.json',
          '/v1/bundles/%2e%2e%2f%2e%2e/package.json',
          `/v1/bundles/${v}/%2fetc%2fpasswd`,
          '/v1/bundles/%2fetc/passwd',
          '/v1/bundles//etc/passwd',
          '//etc/passwd',
          '/v1/bundles/C:%5cWindows/win.ini',
          `/v1/bundles/${v}/unlisted.bin`,
          `/v1/bundles/${v}/.hidden`,
          `/v1/bundles/${v}/${f.listedFile}%00.txt`,
          `/v1/bundles/${v}/${f.listedFile}%2f`,
          `/v1/bundles/${v}/${f.listedFile}/..`,
          `/v1/bundles/${v}/..`,
          `/v1/bundles/${v}/.`,
          `/v1/bundles/${v}/expected.json`,
          '/v1/bundles/.upload-staged/staged.bin',
          '/v1/bundles/20990101-0000000000/manifest.json',
          `/v1/bundles/${v}x/${f.listedFile}`,
          `/v1/bundles/latest.json/${f.listedFile}`,
          `/v1/bundles/${v}/${'a'.repeat(129)}`,
          `/v1/bundles/${'v'.repeat(300)}/x.bin`,
        ]);
        // 404 (no such version or listed file), 400 (a segment over 128 characters), 414 (over the router's limit).
        return { category: 'files route', name: path, method: 'GET', path, status: [404, 400, 414] };
      },
      (random) => ({
        category: 'files route',
        name: 'unsatisfiable range',
        method: 'GET',
        path: `/v1/bundles/${f.version}/${f.listedFile}`,
        headers: { range: `bytes=${1e9 + random.int(1e6)}-` },
        status: 416,
      }),
      (random) => {
        // Admin uploads with names that would land outside the upload folder.
        const [version, file] = pick(random, [
          ['..', 'escape.bin'],
          ['%2e%2e', 'escape.bin'],
          ['fuzz-up', '..%2f..%2fescape.bin'],
          ['fuzz-up', '..%5cescape.bin'],
          ['fuzz-up', '.hidden'],
          ['fuzz-up', 'manifest.json'],
          ['.upload-x', 'a.bin'],
          [f.version, 'a.bin'],
        ]);
        return {
          category: 'files route',
          name: `upload ${version}/${file}`,
          method: 'PUT',
          path: `/v1/admin/bundles/${version}/files/${file}`,
          headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${f.admin}` },
          body: 'escaped!',
          mentions: /version|file|manifest|published/,
        };
      },
    ],
    'unknown route': [
      (random) => {
        const [method, path] = pick(random, [
          ['GET', '/v1/nope'],
          ['GET', '/v2/events'],
          ['GET', '/v1/events'],
          ['DELETE', '/v1/events'],
          ['PATCH', `/v1/users/${ALICE}/embedding`],
          ['DELETE', `/v1/users/${ALICE}/settings`],
          ['POST', '/healthz'],
          ['PUT', '/v1/manifest'],
          ['POST', '/v1/bundles/latest.json'],
          ['GET', `/v1/users/${ALICE}`],
          ['GET', `/v1/users/${ALICE}/events/extra`],
          ['GET', `/v1/users/${'u'.repeat(300)}/events`],
          ['GET', '/v1/users//events'],
          ['GET', '/'],
          ['GET', '/index.html'],
          ['GET', '/.env'],
          ['GET', '/v1/admin'],
          ['PROPFIND', '/v1/events'],
          ['TRACE', '/healthz'],
          ['LINK', '/v1/events'],
          ['GET', `/v1/users/${ALICE}/events%00`],
        ] as const);
        return {
          category: 'unknown route',
          name: `${method} ${path.slice(0, 60)}`,
          method,
          path,
          headers: { authorization: `Bearer ${f.alice}` },
          // 414: a path parameter over the router's 256 characters.
          status: path.length > 256 ? 414 : path.includes('//') ? 400 : 404,
          mentions: path.length > 256 ? /param/i : path.includes('//') ? /userId/ : /route/,
        };
      },
      (random) => {
        const path = pick(random, ['/v1/users/%zz/events', '/v1/bundles/%/x', '/v1/%E0%A4%A/x']);
        return { category: 'unknown route', name: `bad escape ${path}`, method: 'GET', path, status: 400 };
      },
    ],
    headers: [
      (random) => ({
        category: 'headers',
        name: 'header over 16 kB',
        method: 'GET',
        path: '/v1/manifest',
        headers: { 'x-padding': 'p'.repeat(17_000 + random.int(50_000)) },
        status: 431,
      }),
      (random) => ({
        category: 'headers',
        name: 'URL over 16 kB',
        method: 'GET',
        path: `/v1/users/${ALICE}/events?after=0&pad=${'q'.repeat(17_000 + random.int(10_000))}`,
        status: 431,
      }),
      (random) => ({
        category: 'headers',
        name: 'unknown method',
        method: pick(random, ['FOO', 'BREW', 'GETT']),
        path: '/healthz',
        status: 400,
      }),
      (random) => ({
        category: 'headers',
        name: 'preflight without origin',
        method: 'OPTIONS',
        path: pick(random, ['/v1/events', '/v1/manifest', '/nowhere']),
        headers:
          random.next() < 0.5
            ? { 'access-control-request-method': 'POST' }
            : { origin: 'https://app.example' },
        status: 400,
        mentions: /preflight/,
      }),
    ],
    session: [
      (random) => {
        const body = pick(random, [
          json({ role: 'root' }),
          json({ ttlSeconds: 10 }),
          json({ ttlSeconds: 10 ** 9 }),
          json({ ttlSeconds: '3600' }),
          json({ userId: '' }),
          json({ userId: 'x'.repeat(257) }),
          json({ extra: 1 }),
          json([]),
          '"x"',
          '{',
        ]);
        return {
          category: 'session',
          name: body.slice(0, 40),
          method: 'POST',
          path: '/v1/session',
          headers: jsonHeaders(f.admin),
          body,
          status: 400,
        };
      },
      () => ({
        category: 'session',
        name: 'named session without a token',
        method: 'POST',
        path: '/v1/session',
        headers: jsonHeaders(),
        body: json({ userId: BOB }),
        status: 401,
        mentions: /token|authorization/i,
      }),
    ],
    admin: [
      (random) => {
        const [method, path, body, status] = pick(random, [
          ['POST', '/v1/admin/refresh', undefined, 409],
          ['POST', `/v1/admin/bundles/${f.version}/publish`, json({ version: 'other' }), 400],
          ['POST', '/v1/admin/bundles/fuzz-v2/publish', json({ version: 'fuzz-v2' }), 400],
          ['POST', '/v1/admin/bundles/fuzz-v2/publish', json({ version: 'fuzz-v2', items: 'x' }), 400],
          ['POST', '/v1/admin/bundles/fuzz-v2/publish', json([]), 400],
          ['PUT', '/v1/admin/bundles/fuzz-v2/files/a.bin', json({ not: 'a stream' }), 415],
        ] as const);
        return {
          category: 'admin',
          name: `${method} ${path}`,
          method,
          path,
          headers: body === undefined ? { authorization: `Bearer ${f.admin}` } : jsonHeaders(f.admin),
          body,
          status,
        };
      },
    ],
  };
}

/** Every factory a few times in order (coverage), then random picks up to `total` (volume). */
function generateCases(f: Fixture, total: number): Case[] {
  const random = new Random(SEED);
  const byCategory = Object.values(factories(f));
  const cases: Case[] = [];
  for (let round = 0; round < 4; round++)
    for (const factory of byCategory.flat()) cases.push(factory(random, f));
  // Each category as likely as any other, whatever its number of factories.
  while (cases.length < total) cases.push(pick(random, pick(random, byCategory))(random, f));
  return cases;
}

interface Outcome {
  c: Case;
  status: number | string;
  problem?: string;
}

function check(c: Case, status: number, contentType: string | undefined, text: string): string | undefined {
  if (status < 400 || status > 499) return `status ${status}: ${text.slice(0, 200)}`;
  const expected = c.status === undefined ? undefined : ([] as number[]).concat(c.status);
  if (expected && !expected.includes(status))
    return `status ${status}, expected ${expected.join(' or ')}: ${text.slice(0, 200)}`;
  if (!contentType?.startsWith('application/json'))
    return `content-type ${contentType}: ${text.slice(0, 200)}`;
  let message: unknown;
  try {
    message = (JSON.parse(text) as { message?: unknown }).message;
  } catch {
    return `body is not JSON: ${text.slice(0, 200)}`;
  }
  if (typeof message !== 'string' || message.trim().length < 5) return `no message: ${text.slice(0, 200)}`;
  if (c.mentions && !c.mentions.test(message)) return `message does not match ${c.mentions}: ${message}`;
  return undefined;
}

async function send(url: string, c: Case): Promise<Outcome> {
  try {
    const response = await request(url, {
      method: c.method,
      path: c.path,
      headers: c.headers,
      body: c.body,
      timeoutMs: 15_000,
    });
    const problem = check(c, response.status, response.headers['content-type'], response.text);
    return { c, status: response.status, problem };
  } catch (error) {
    return { c, status: 'error', problem: `no response: ${(error as Error).message}` };
  }
}

async function sendAll(url: string, cases: Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) {
        const i = next++;
        outcomes[i] = await send(url, cases[i]);
      }
    }),
  );
  return outcomes;
}

function summary(kind: string, outcomes: { c: { category: string }; status: number | string }[]): string {
  const statuses = [...new Set(outcomes.map((o) => String(o.status)))].sort();
  const categories = [...new Set(outcomes.map((o) => o.c.category))];
  const header = ['category', 'requests', ...statuses];
  const rows = categories.map((category) => {
    const mine = outcomes.filter((o) => o.c.category === category);
    return [
      category,
      String(mine.length),
      ...statuses.map((s) => String(mine.filter((o) => String(o.status) === s).length || '')),
    ];
  });
  rows.push([
    'all',
    String(outcomes.length),
    ...statuses.map((s) => String(outcomes.filter((o) => String(o.status) === s).length)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  return [`[fuzz ${kind}] status codes of ${outcomes.length} requests`, line(header), ...rows.map(line)].join(
    '\n',
  );
}

describe.each(DB_KINDS)('fuzzing the API with bad requests (%s)', (kind: DbKind) => {
  let dataDir: string;
  let modelsDir: string;
  const errors: string[] = [];
  let pgSchema: PgSchema | undefined;
  let server: RunningServer;
  let fixture: Fixture;

  beforeAll(async () => {
    dataDir = tempDir('edgerec-fuzz-data-');
    modelsDir = tempDir('edgerec-fuzz-models-');
    const bundleDir = await ensureTinyBundle();
    // A private copy of the real bundle, with things on disk the manifest does not list.
    const { version } = JSON.parse(readFileSync(join(bundleDir, 'latest.json'), 'utf8')) as {
      version: string;
    };
    cpSync(join(bundleDir, version), join(modelsDir, version), { recursive: true });
    cpSync(join(bundleDir, 'latest.json'), join(modelsDir, 'latest.json'));
    writeFileSync(join(modelsDir, version, 'unlisted.bin'), 'not in the manifest');
    writeFileSync(join(modelsDir, version, '.hidden'), 'dotfile');
    mkdirSync(join(modelsDir, '.upload-staged'));
    writeFileSync(join(modelsDir, '.upload-staged', 'staged.bin'), 'staged');
    const manifest = JSON.parse(
      readFileSync(join(modelsDir, version, 'manifest.json'), 'utf8'),
    ) as BundleManifest;

    // A fixed token secret, so that the generated tokens (and so the requests) are the same every run.
    const secret = createHash('sha256').update(`edgerec-fuzz-${SEED}`).digest('hex');
    writeFileSync(join(dataDir, 'server-secret'), `${secret}\n`, { mode: 0o600 });
    if (kind === 'postgres') pgSchema = await createPgSchema('edgerec_fuzz');
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      databaseUrl: pgSchema?.url,
      modelsDir,
      refreshMinutes: 15,
      // The fuzzer probes validation: a 429 would hide what a request was refused for. Limits have tests
      // of their own (sessions.test.ts).
      rateLimits: { anonymousSessionsPerIp: 0, eventBatchesPerUser: 0 },
      // Any 5xx is logged at error level with its stack: collect them for the failure message.
      logger: {
        level: 'error',
        stream: {
          write: (line: string) => {
            errors.push(line);
          },
        },
      },
    });
    const signer = server.context.signer;
    const other = new TokenSigner(Buffer.alloc(32, 7));
    fixture = {
      manifest,
      version,
      listedFile: [...manifestFiles(manifest).keys()][0],
      alice: signer.issue(ALICE, 'user', 3600).token,
      bob: signer.issue(BOB, 'user', 3600).token,
      admin: signer.issue('fuzz-ops', 'admin', 3600).token,
      expired: signer.issue(ALICE, 'user', -60).token,
      foreignSigned: other.issue(ALICE, 'user', 3600).token,
      forged: (claims) => signer.sign(claims as never),
    };
    // Version 1 of alice's device embedding, so that other bases are stale.
    const put = await request(server.url, {
      method: 'PUT',
      path: `/v1/users/${ALICE}/embedding`,
      token: fixture.alice,
      json: { vector: [0.1, 0.2], modelVersion: version, baseVersion: 0 },
    });
    expect(put.status, put.text).toBe(200);
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await pgSchema?.drop();
    for (const dir of [dataDir, modelsDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`answers ${MIN_REQUESTS}+ bad requests with a 4xx that says why, and keeps working`, async () => {
    const cases = generateCases(fixture, MIN_REQUESTS);
    const started = performance.now();
    const huge = 20 * MiB;
    // Last, a real 20 MB body (an honest content-length): refused with 413, the connection still answered.
    cases.push(
      eventsCase(
        'huge body',
        '20 MB',
        json({ events: [{ ...validEvent(), surface: 'y'.repeat(huge) }] }),
        fixture.alice,
        {
          status: 413,
          mentions: /large|limit/i,
        },
      ),
    );
    const outcomes = await sendAll(server.url, cases);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${summary(kind, outcomes)}\n(${seconds.toFixed(1)} s)`);

    const problems = outcomes
      .filter((o) => o.problem)
      .map((o) => `[${o.c.category}] ${o.c.method} ${o.c.name}: ${o.problem}`);
    expect(problems.slice(0, 30), `${problems.length} bad answers`).toEqual([]);
    expect(outcomes.length).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect(errors, 'the server logged errors').toEqual([]);

    // No upload escaped its folder.
    expect(existsSync(join(modelsDir, '..', 'escape.bin'))).toBe(false);
    expect(existsSync(join(modelsDir, 'escape.bin'))).toBe(false);

    // Still healthy, still serving the bundle, still storing events.
    const health = await request(server.url, { path: '/healthz' });
    expect(health.status).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', db: kind, bundle: fixture.version });
    const manifest = await request(server.url, { path: `/v1/bundles/${fixture.version}/manifest.json` });
    expect(manifest.status).toBe(200);
    const file = await request(server.url, { path: `/v1/bundles/${fixture.version}/${fixture.listedFile}` });
    expect(file.status).toBe(200);
    const batch = Array.from({ length: 50 }, () => validEvent());
    const ok = await request(server.url, {
      path: '/v1/events',
      token: fixture.alice,
      json: { events: batch },
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json()).toEqual({ accepted: 50, duplicates: 0, conflicts: [] });
    // Nothing else of alice's got in: only the valid batch.
    expect(await server.context.store.countEvents(ALICE)).toBe(50);
    expect(await server.context.store.countEvents()).toBe(50);
  }, 180_000);

  it(`answers ${MIN_HOSTILE_REQUESTS}+ requests with hostile strings, keys, bytes and version names: no 5xx`, async () => {
    const signer = server.context.signer;
    const carol = signer.issue(CAROL, 'user', 3600).token;
    const modelsBefore = readdirSync(modelsDir).sort();
    const cases = hostileCases(
      new Random(SEED + 1),
      {
        user: CAROL,
        userToken: carol,
        adminToken: fixture.admin,
        version: fixture.version,
        listedFile: fixture.listedFile,
        manifest: fixture.manifest as unknown as Record<string, unknown>,
      },
      MIN_HOSTILE_REQUESTS,
    );
    const started = performance.now();
    const outcomes: { c: HostileCase; status: number; problem?: string }[] = new Array(cases.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < cases.length) {
          const i = next++;
          const c = cases[i];
          const response = await server.app.inject(c.request);
          const problem = checkHostile(
            c,
            response.statusCode,
            response.headers['content-type'] as string,
            response.body,
          );
          outcomes[i] = { c, status: response.statusCode, problem };
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(`${summary(`${kind} hostile`, outcomes)}\n(${seconds.toFixed(1)} s)`);

    const problems = outcomes
      .filter((o) => o.problem)
      .map((o) => `[${o.c.category}] ${o.c.name}: ${o.problem}`);
    expect(problems.slice(0, 30), `${problems.length} bad answers`).toEqual([]);
    expect(outcomes.length).toBeGreaterThanOrEqual(MIN_HOSTILE_REQUESTS);
    expect(outcomes.filter((o) => o.c.expect === 'refused').length).toBeGreaterThan(MIN_HOSTILE_REQUESTS / 4);
    expect(errors, 'the server logged errors').toEqual([]);

    // What was stored reads back exactly as one of the events sent under its id.
    const canonical = (e: object) => json(Object.fromEntries(Object.entries(e).sort()));
    const sent = new Map<string, string[]>();
    for (const o of outcomes)
      if (o.status === 200)
        for (const e of o.c.events ?? [])
          sent.set(String(e.id), [...(sent.get(String(e.id)) ?? []), canonical(e)]);
    const stored = await server.context.store.eventsOf(CAROL, { limit: 1_000_000 });
    expect(stored.length).toBeGreaterThan(0);
    for (const { seq: _, ...e } of stored) expect(sent.get(e.id), e.id).toContain(canonical(e));

    // The bundles folder is as it was: no version named latest.json, no stray upload folder.
    expect(readdirSync(modelsDir).sort()).toEqual(modelsBefore);
    const health = await request(server.url, { path: '/healthz' });
    expect(health.json()).toMatchObject({ status: 'ok', db: kind, bundle: fixture.version });
  }, 300_000);
});
