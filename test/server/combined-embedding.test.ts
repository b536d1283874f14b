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

// server (3, 4, 0): unit (0.6, 0.8, 0); device (0, 2, 0): unit (0, 1, 0).
const SERVER = [3, 4, 0];
const DEVICE = [0, 2, 0];

describe.each(DB_KINDS)('the embedding route serves the combined embedding on %s', (kind) => {
  let quarter: TestServer;
  let deviceOnly: TestServer;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    quarter = await testServer(kind, bundleDir, {}, { combineRule: { kind: 'sum', deviceWeight: 0.25 } });
    // No rule given: the server's default, DEFAULT_COMBINE_RULE (the device's, the validation choice).
    deviceOnly = await testServer(kind, bundleDir);
  });
  afterAll(async () => {
    await quarter?.close();
    await deviceOnly?.close();
  });

  /** The refresh job's write (store.putServerEmbedding), then a device's through the route, then a read. */
  async function both(server: TestServer, userId: string, serverVersion = manifest.version) {
    await server.context.store.putServerEmbedding(userId, {
      vector: SERVER,
      modelVersion: serverVersion,
      eventSeq: 1,
      updatedAt: 1_000,
    });
    const headers = bearer(server.userToken(userId));
    const put = await server.app.inject({
      method: 'PUT',
      url: `/v1/users/${userId}/embedding`,
      headers,
      payload: { vector: DEVICE, modelVersion: manifest.version, baseVersion: 0 },
    });
    expect(put.statusCode).toBe(200);
    const got = await server.app.inject({ url: `/v1/users/${userId}/embedding`, headers });
    expect(got.statusCode).toBe(200);
    return got.json();
  }

  it('a user with both embeddings is served their normalised sum at the server weight, by hand', async () => {
    const answer = await both(quarter, 'olga');
    // 0.75·(0.6, 0.8, 0) + 0.25·(0, 1, 0) = (0.45, 0.85, 0), norm √0.925.
    expect(answer.server.vector).toEqual(SERVER);
    expect(answer.device.vector).toEqual(DEVICE);
    expect(answer.combined).toMatchObject({ modelVersion: manifest.version, rule: '0.25', from: 'both' });
    expect(answer.combined.vector[0]).toBeCloseTo(0.45 / Math.sqrt(0.925), 6);
    expect(answer.combined.vector[1]).toBeCloseTo(0.85 / Math.sqrt(0.925), 6);
    expect(answer.combined.vector[2]).toBe(0);
  });

  it("the default rule serves the device's embedding of the same pair", async () => {
    const answer = await both(deviceOnly, 'olga');
    expect(answer.combined).toEqual({
      vector: DEVICE,
      modelVersion: manifest.version,
      rule: 'device',
      from: 'both',
    });
  });

  it('one embedding alone is served as it is; embeddings of two model versions are not mixed', async () => {
    const headers = bearer(quarter.userToken('petra'));
    const none = (await quarter.app.inject({ url: '/v1/users/petra/embedding', headers })).json();
    expect(none.combined).toBeNull();
    await quarter.context.store.putServerEmbedding('petra', {
      vector: SERVER,
      modelVersion: manifest.version,
      eventSeq: 1,
      updatedAt: 1_000,
    });
    const server = (await quarter.app.inject({ url: '/v1/users/petra/embedding', headers })).json();
    expect(server.combined).toEqual({
      vector: SERVER,
      modelVersion: manifest.version,
      rule: '0.25',
      from: 'server',
    });
    // The server's of an older bundle, the device's of the running one (written later): the device's alone.
    const mixed = await both(quarter, 'quinn', 'older-bundle');
    expect(mixed.combined).toEqual({
      vector: DEVICE,
      modelVersion: manifest.version,
      rule: '0.25',
      from: 'device',
    });
  });
});
