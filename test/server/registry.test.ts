/**
 * The registry's names, leftovers and caching: one version-name rule (shared with the CLI) refuses names
 * that would break the bundles folder; upload folders of failed publishes are removed (after the failure,
 * and at startup when stale); files honour If-Range on their own ETag, answer 416 with
 * `Content-Range: bytes *\/N`, and 304 on If-None-Match.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BundleManifest, checkVersionName, versionNameProblem } from '../../src/core/bundle/index.ts';
import { startServer } from '../../src/server/serve.ts';
import { BundleFiles, publishBundle } from '../../src/train/bundle/publish.ts';
import { ensureTinyBundle, latestManifest } from './support/bundle.ts';
import { type TestServer, testServer } from './support/context.ts';
import { HOSTILE_VERSIONS } from './support/hostile.ts';
import { tempDir } from './support/process.ts';

let bundleDir: string;
let manifest: BundleManifest;

beforeAll(async () => {
  bundleDir = await ensureTinyBundle();
  manifest = latestManifest(bundleDir);
}, 300_000);

describe('version names', () => {
  it('one rule accepts real versions and refuses names that would break the bundles folder', () => {
    for (const good of ['20261206-80ec6a7880', 'v1', 'v1.2.3', 'A_b-c', 'x'.repeat(128)])
      expect(versionNameProblem(good), good).toBeUndefined();
    for (const bad of HOSTILE_VERSIONS) expect(versionNameProblem(bad), JSON.stringify(bad)).toBeDefined();
    expect(() => checkVersionName('latest.json')).toThrow(/"latest.json" is reserved/);
    expect(() => checkVersionName('a..b')).toThrow(/must not contain "\.\."/);
  });

  it('edgerec bundle writes no folder under a hostile version (publishBundle shares the rule)', () => {
    const out = tempDir('edgerec-registry-bundle-');
    try {
      for (const version of ['latest.json', '.upload-x', 'a..b'])
        expect(() => publishBundle(out, { ...manifest, version }, new BundleFiles())).toThrow(/version/);
      expect(readdirSync(out)).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  describe('on the publish routes', () => {
    let models: string;
    let server: TestServer;
    let admin: Record<string, string>;
    beforeAll(async () => {
      models = tempDir('edgerec-registry-names-');
      server = await testServer('sqlite', models);
      admin = { authorization: `Bearer ${server.adminToken()}` };
    });
    afterAll(async () => {
      await server?.close();
      rmSync(models, { recursive: true, force: true });
    });

    it('refuses every hostile version with 400 and leaves the bundles folder untouched', async () => {
      for (const version of HOSTILE_VERSIONS.filter((v) => v !== '' && !v.includes('/'))) {
        const path = encodeURIComponent(version);
        const upload = await server.app.inject({
          method: 'PUT',
          url: `/v1/admin/bundles/${path}/files/a.bin`,
          headers: { ...admin, 'content-type': 'application/octet-stream' },
          payload: Buffer.from('x'),
        });
        // "." and ".." are dot-segments a URL resolves away: no route is left to reach (404).
        const status = version === '.' || version === '..' ? 404 : 400;
        expect(upload.statusCode, `${version}: ${upload.body}`).toBe(status);
        expect(upload.json()).toMatchObject({ statusCode: status });
        const publish = await server.app.inject({
          method: 'POST',
          url: `/v1/admin/bundles/${path}/publish`,
          headers: admin,
          payload: { ...manifest, version },
        });
        expect(publish.statusCode, `${version}: ${publish.body}`).toBe(status);
      }
      expect(readdirSync(models)).toEqual([]);
    });

    it('publishes after a refused "latest.json" as if nothing happened', async () => {
      await server.app.inject({
        method: 'POST',
        url: '/v1/admin/bundles/latest.json/publish',
        headers: admin,
        payload: { ...manifest, version: 'latest.json' },
      });
      for (const ref of [
        ...manifest.items.flatMap((t) => (t.scales ? [t, t.scales] : [t])),
        ...manifest.rankers,
        ...manifest.encoders,
        manifest.catalog,
      ]) {
        const put = await server.app.inject({
          method: 'PUT',
          url: `/v1/admin/bundles/${manifest.version}/files/${ref.file}`,
          headers: { ...admin, 'content-type': 'application/octet-stream' },
          payload: readFileSync(join(bundleDir, manifest.version, ref.file)),
        });
        expect(put.statusCode).toBe(201);
      }
      const published = await server.app.inject({
        method: 'POST',
        url: `/v1/admin/bundles/${manifest.version}/publish`,
        headers: admin,
        payload: manifest,
      });
      expect(published.json()).toEqual({ version: manifest.version });
      expect((await server.app.inject({ url: '/v1/bundles/latest.json' })).json()).toEqual({
        version: manifest.version,
      });
      expect(readdirSync(models).sort()).toEqual(['latest.json', manifest.version].sort());
    });
  });
});

describe('upload folders of failed publishes', () => {
  it('are removed at startup once stale, while a fresh one (an upload in flight elsewhere) stays', async () => {
    const models = tempDir('edgerec-registry-stale-');
    const data = tempDir('edgerec-registry-data-');
    for (const name of ['.upload-old', '.upload-fresh']) {
      mkdirSync(join(models, name));
      writeFileSync(join(models, name, 'part.bin'), 'x');
    }
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(models, '.upload-old'), twoHoursAgo, twoHoursAgo);
    const running = await startServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: data,
      modelsDir: models,
      refreshMinutes: 15,
    });
    try {
      expect(readdirSync(models)).toEqual(['.upload-fresh']);
    } finally {
      await running.close();
      rmSync(models, { recursive: true, force: true });
      rmSync(data, { recursive: true, force: true });
    }
  });
});

describe('bundle files: ranges and caching', () => {
  let models: string;
  let server: TestServer;
  let url: string;
  let etag: string;
  let size: number;
  let whole: Buffer;

  beforeAll(async () => {
    models = tempDir('edgerec-registry-files-');
    cpSync(join(bundleDir, manifest.version), join(models, manifest.version), { recursive: true });
    cpSync(join(bundleDir, 'latest.json'), join(models, 'latest.json'));
    server = await testServer('sqlite', models);
    const table = manifest.items.find((t) => t.dtype === 'f32')!;
    url = `/v1/bundles/${manifest.version}/${table.file}`;
    etag = `"${table.sha256}"`;
    size = table.bytes;
    whole = readFileSync(join(models, manifest.version, table.file));
  });
  afterAll(async () => {
    await server?.close();
    rmSync(models, { recursive: true, force: true });
  });

  it("honours If-Range with the file's own ETag (206) and sends the whole file for any other", async () => {
    const resumed = await server.app.inject({ url, headers: { range: 'bytes=10-19', 'if-range': etag } });
    expect(resumed.statusCode).toBe(206);
    expect(resumed.headers['content-range']).toBe(`bytes 10-19/${size}`);
    expect(Buffer.compare(resumed.rawPayload, whole.subarray(10, 20))).toBe(0);
    for (const other of ['"0000"', `W/${etag}`, 'Sun, 06 Dec 2026 00:00:00 GMT']) {
      const changed = await server.app.inject({ url, headers: { range: 'bytes=10-19', 'if-range': other } });
      expect(changed.statusCode, other).toBe(200);
      expect(changed.rawPayload.byteLength).toBe(size);
      expect(changed.headers.etag).toBe(etag);
    }
  });

  it('answers an unsatisfiable range with 416, Content-Range: bytes */N and the error shape', async () => {
    const beyond = await server.app.inject({ url, headers: { range: `bytes=${size + 10}-` } });
    expect(beyond.statusCode).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${size}`);
    expect(beyond.json()).toMatchObject({ statusCode: 416, error: 'Range Not Satisfiable' });
  });

  it('answers If-None-Match on its ETag (or *) with an empty 304', async () => {
    for (const header of [etag, `"other", ${etag}`, '*']) {
      const cached = await server.app.inject({ url, headers: { 'if-none-match': header } });
      expect(cached.statusCode, header).toBe(304);
      expect(cached.body).toBe('');
      expect(cached.headers.etag).toBe(etag);
    }
    expect((await server.app.inject({ url, headers: { 'if-none-match': '"other"' } })).statusCode).toBe(200);
    expect(existsSync(join(models, manifest.version))).toBe(true);
  });
});
