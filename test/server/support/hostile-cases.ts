/**
 * Seeded requests carrying hostile strings in valid JSON (and in paths, query strings and keys), invalid
 * UTF-8 bodies and hostile version names, for the fuzzer's second phase. Each case says what is right:
 * `refused` (exactly 400: no database could store it), `not stored` (any 4xx) or `any` (anything but a 5xx).
 */
import type { InjectOptions } from 'fastify';
import type { Random } from '../../../src/core/random.ts';
import {
  HOSTILE_VERSIONS,
  hostileString,
  NOT_UTF8,
  ODD,
  PROTOTYPE_KEYS,
  pathSegment,
  pick,
  UNSTORABLE,
} from './hostile.ts';

export interface HostileFixture {
  /** The user whose token sends the events (not the first phase's users: its counts stay exact). */
  user: string;
  userToken: string;
  adminToken: string;
  /** The published version and one of its files. */
  version: string;
  listedFile: string;
  manifest: Record<string, unknown>;
}

export type Expectation = 'refused' | 'not stored' | 'any';

export interface HostileCase {
  category: string;
  name: string;
  request: InjectOptions;
  expect: Expectation;
  mentions?: RegExp;
  /** Events the request would store, for the read-back check. */
  events?: Record<string, unknown>[];
}

const EVENT_STRING_FIELDS = ['id', 'userId', 'itemId', 'action', 'surface'] as const;
let serial = 0;

function event(user: string): Record<string, unknown> {
  serial++;
  return {
    id: `hz-${serial}`,
    userId: user,
    itemId: `item-${serial % 40}`,
    action: 'click',
    ts: 1_700_000_000_000 + serial,
  };
}

const describeText = (text: string) =>
  JSON.stringify(text.slice(0, 24)) + (text.length > 24 ? `…(${text.length})` : '');

type Factory = (random: Random, f: HostileFixture) => HostileCase;

function factories(): Record<string, Factory> {
  const json = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
  return {
    'event field': (random, f) => {
      const field = pick(random, EVENT_STRING_FIELDS);
      const { text, unstorable } = hostileString(random);
      const events = Array.from({ length: random.int(5) }, () => event(f.user));
      const bad = { ...event(f.user), [field]: text };
      events.splice(random.int(events.length + 1), 0, bad);
      return {
        category: 'event field',
        name: `${field}=${describeText(text)}`,
        request: {
          method: 'POST',
          url: '/v1/events',
          headers: json(f.userToken),
          payload: JSON.stringify({ events }),
        },
        expect: unstorable ? 'refused' : 'any',
        mentions: unstorable ? new RegExp(`body/events/\\d+/${field} contains`) : undefined,
        events,
      };
    },
    'object key': (random, f) => {
      const proto = random.next() < 0.5;
      const key = proto ? pick(random, PROTOTYPE_KEYS) : pick(random, [...UNSTORABLE, ...ODD.slice(0, 8)]);
      const value = pick(random, [1, null, {}, { admin: true }, [], 'x']);
      const at = random.int(3);
      const ev = event(f.user);
      // JSON text by hand: JSON.stringify would drop a __proto__ key set through an object literal.
      const member = `${JSON.stringify(key)}:${JSON.stringify(value)}`;
      const evText = `{${member},${JSON.stringify(ev).slice(1)}`;
      const payload =
        at === 0
          ? `{${member},"events":[${JSON.stringify(ev)}]}`
          : at === 1
            ? `{"events":[${evText}]}`
            : `{"events":[${JSON.stringify({ ...ev, surface: undefined }).slice(0, -1)},"surface":{${member}}}]}`;
      return {
        category: 'object key',
        name: `${describeText(key)} at ${['top', 'event', 'nested'][at]}`,
        request: { method: 'POST', url: '/v1/events', headers: json(f.userToken), payload },
        expect: 'refused',
        mentions: proto ? /prototype keys are refused/ : undefined,
      };
    },
    'not UTF-8': (random, f) => {
      const text = Buffer.from(JSON.stringify({ events: [event(f.user)] }));
      const at = text.indexOf('item-') + 5;
      const bytes = pick(random, NOT_UTF8);
      return {
        category: 'not UTF-8',
        name: bytes.map((b) => b.toString(16)).join(' '),
        request: {
          method: pick(random, ['POST', 'PUT']),
          url: pick(random, ['/v1/events', `/v1/users/${f.user}/embedding`, `/v1/users/${f.user}/settings`]),
          headers: json(f.userToken),
          payload: Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at)]),
        },
        // A PUT to /v1/events is no route (404) before any body is read; everything else is a 400.
        expect: 'not stored',
      };
    },
    embedding: (random, f) => {
      const { text, unstorable } = hostileString(random);
      return {
        category: 'embedding',
        name: `modelVersion=${describeText(text)}`,
        request: {
          method: 'PUT',
          url: `/v1/users/${f.user}/embedding`,
          headers: json(f.userToken),
          payload: JSON.stringify({ vector: [0.25, -0.5], modelVersion: text, baseVersion: random.int(3) }),
        },
        expect: unstorable ? 'refused' : 'any',
      };
    },
    session: (random, f) => {
      const { text, unstorable } = hostileString(random);
      return {
        category: 'session',
        name: `userId=${describeText(text)}`,
        request: {
          method: 'POST',
          url: '/v1/session',
          headers: json(f.adminToken),
          payload: JSON.stringify({ userId: text }),
        },
        expect: unstorable ? 'refused' : 'any',
      };
    },
    'path and query': (random, f) => {
      const { text, unstorable } = hostileString(random);
      const segment = pathSegment(text);
      const [method, url, payload] = pick(random, [
        ['GET', `/v1/users/${segment}/events`, undefined],
        ['GET', `/v1/users/${segment}/embedding`, undefined],
        ['GET', `/v1/users/${segment}/settings`, undefined],
        ['PUT', `/v1/users/${segment}/settings`, JSON.stringify({ privacy: false })],
        ['GET', `/v1/users/${f.user}/events?after=${segment}`, undefined],
        ['GET', `/v1/users/${f.user}/events?limit=10&${segment}=1`, undefined],
        ['GET', `/v1/bundles/${segment}/manifest.json`, undefined],
        ['GET', `/v1/bundles/${f.version}/${segment}`, undefined],
        ['GET', `/v1/bundles/${segment}/${f.listedFile}`, undefined],
      ] as const);
      return {
        category: 'path and query',
        name: `${method} ${url.slice(0, 60)}`,
        request: { method, url, headers: json(random.next() < 0.5 ? f.userToken : f.adminToken), payload },
        // Too long a segment is a 414 before our check runs; the rest of the unstorable ones are 400s.
        expect: unstorable && segment.length <= 256 ? 'refused' : 'any',
      };
    },
    'version name': (random, f) => {
      const fromList = random.next() < 0.6;
      const version = fromList ? pick(random, HOSTILE_VERSIONS) : hostileString(random).text;
      const segment = pathSegment(version);
      const upload = random.next() < 0.5;
      return {
        category: 'version name',
        name: `${upload ? 'upload' : 'publish'} ${describeText(version)}`,
        request: upload
          ? {
              method: 'PUT',
              url: `/v1/admin/bundles/${segment}/files/${pick(random, [f.listedFile, 'a.bin', segment])}`,
              headers: {
                authorization: `Bearer ${f.adminToken}`,
                'content-type': 'application/octet-stream',
              },
              payload: Buffer.from('bytes of a file'),
            }
          : {
              method: 'POST',
              url: `/v1/admin/bundles/${segment}/publish`,
              headers: json(f.adminToken),
              payload: JSON.stringify({ ...f.manifest, version }),
            },
        expect: 'not stored',
      };
    },
    manifest: (random, f) => {
      const { text } = hostileString(random);
      const field = pick(random, ['file', 'sha256', 'dtype']);
      const items = (f.manifest.items as Record<string, unknown>[]).map((t, i) =>
        i === 0 ? { ...t, [field]: text } : t,
      );
      return {
        category: 'manifest',
        name: `items[0].${field}=${describeText(text)}`,
        request: {
          method: 'POST',
          url: `/v1/admin/bundles/${f.version}-hz/publish`,
          headers: json(f.adminToken),
          payload: JSON.stringify({ ...f.manifest, version: `${f.version}-hz`, items }),
        },
        expect: 'not stored',
      };
    },
  };
}

/** `total` cases: each factory a few times in order (coverage), then random picks (volume). */
export function hostileCases(random: Random, f: HostileFixture, total: number): HostileCase[] {
  const all = Object.values(factories());
  const cases: HostileCase[] = [];
  for (let round = 0; round < 8; round++) for (const factory of all) cases.push(factory(random, f));
  while (cases.length < total) cases.push(pick(random, all)(random, f));
  return cases;
}

/** What is wrong with an answer, or undefined when it is right. */
export function checkHostile(
  c: HostileCase,
  status: number,
  contentType: string | undefined,
  body: string,
): string | undefined {
  if (status >= 500) return `status ${status}: ${body.slice(0, 200)}`;
  if (c.expect === 'refused' && status !== 400)
    return `status ${status}, expected 400: ${body.slice(0, 200)}`;
  if (c.expect === 'not stored' && status < 400)
    return `status ${status}, expected a refusal: ${body.slice(0, 200)}`;
  if (status < 400) return undefined;
  if (!contentType?.startsWith('application/json'))
    return `content-type ${contentType}: ${body.slice(0, 200)}`;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `body is not JSON: ${body.slice(0, 200)}`;
  }
  if (parsed.statusCode !== status || typeof parsed.error !== 'string' || typeof parsed.message !== 'string')
    return `not the error shape: ${body.slice(0, 200)}`;
  if (c.mentions && !c.mentions.test(parsed.message))
    return `message does not match ${c.mentions}: ${parsed.message}`;
  return undefined;
}
