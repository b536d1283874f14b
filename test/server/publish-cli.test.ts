import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/index.ts';
import { ensureTinyBundle } from './support/bundle.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/edgerec.mjs');
// Fixed, so a failure reproduces; random-looking, since a guessable secret is refused.
const SECRET = createHash('sha256').update('edgerec-publish-cli').digest('hex');

describe('edgerec token and edgerec publish against a running server', () => {
  let server: RunningServer;
  let bundleDir: string;
  let registry: string;
  let dataDir: string;
  let version: string;

  beforeAll(async () => {
    bundleDir = await ensureTinyBundle();
    version = JSON.parse(readFileSync(join(bundleDir, 'latest.json'), 'utf8')).version;
    registry = mkdtempSync(join(tmpdir(), 'edgerec-publish-'));
    dataDir = mkdtempSync(join(tmpdir(), 'edgerec-publish-data-'));
    process.env.EDGEREC_SECRET = SECRET;
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      dataDir,
      modelsDir: registry,
      refreshMinutes: 15,
    });
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    delete process.env.EDGEREC_SECRET;
    rmSync(registry, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const env = { ...process.env, EDGEREC_SECRET: SECRET };

  it('a user token cannot publish; an admin token minted by the CLI can, and the server serves it', async () => {
    const userToken = (await run('node', [BIN, 'token', '--user', 'alice'], { env })).stdout.trim();
    const adminToken = (await run('node', [BIN, 'token', '--user', 'ops', '--admin'], { env })).stdout.trim();
    expect(server.context.signer.verify(userToken)).toMatchObject({ sub: 'alice', role: 'user' });
    const dir = join(bundleDir, version);
    const refused = await run(
      'node',
      [BIN, 'publish', dir, '--server', server.url, '--token', userToken, '--quiet'],
      {
        env,
      },
    ).catch((error) => error);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/HTTP 403: this route needs an admin token/);

    const { stdout } = await run('node', [BIN, 'publish', dir, '--server', server.url, '--quiet'], {
      env: { ...env, EDGEREC_ADMIN_TOKEN: adminToken },
    });
    expect(stdout).toContain(`published ${version}`);
    const latest = await fetch(new URL('/v1/bundles/latest.json', server.url));
    expect(await latest.json()).toEqual({ version });
    const manifest = await (await fetch(new URL(`/v1/bundles/${version}/manifest.json`, server.url))).json();
    const catalog = await fetch(new URL(`/v1/bundles/${version}/${manifest.catalog.file}`, server.url));
    expect(Buffer.from(await catalog.arrayBuffer()).byteLength).toBe(manifest.catalog.bytes);
  });
});
