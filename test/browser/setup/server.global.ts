/**
 * Global setup of the browser project, after bundle.global.ts (which builds the bundle and the run this
 * needs): starts the real sync server (`src/server/serve.ts`) on a free port of 127.0.0.1, over a fresh
 * data folder (its own SQLite file and token secret), serving `test/generated/bundle` as its registry and
 * re-embedding users with the PinnerFormer of `test/generated/run`. Tests get its URL, an admin token (for
 * `POST /v1/admin/refresh`) and the URL of a closed port (an unreachable server) with `inject('syncServer')`.
 *
 * A second server, `inject('versionServer')`, serves a registry of its own — a copy of the bundle the
 * setup built — for tests that publish new versions through its admin API (bundle swaps, cache pruning):
 * its `latest.json` moves, which the shared registry's must not. Both are closed, and their folders
 * deleted, in teardown.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startServer } from '../../../src/server/serve.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `closedUrl`: a port of 127.0.0.1 that was just free and is closed again: nothing answers there. */
    syncServer: { url: string; adminToken: string; closedUrl: string };
    /** A server whose registry tests may publish to (see above); no refresh job. */
    versionServer: { url: string; adminToken: string };
  }
}

const BUNDLES = 'test/generated/bundle';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgerec-sync-test-'));
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    modelsDir: 'test/generated/bundle',
    runDir: 'test/generated/run',
    requireRun: true,
    refreshMinutes: 15,
    logger: false,
  });
  const adminToken = server.context.signer.issue('admin', 'admin', 3600).token;
  project.provide('syncServer', { url: server.url, adminToken, closedUrl: await closedPortUrl() });
  process.stderr.write(`[sync server setup] ${server.url} (data in ${dataDir})\n`);

  const versionDir = mkdtempSync(join(tmpdir(), 'edgerec-version-test-'));
  const { version } = JSON.parse(readFileSync(join(BUNDLES, 'latest.json'), 'utf8')) as { version: string };
  cpSync(join(BUNDLES, version), join(versionDir, 'models', version), { recursive: true });
  cpSync(join(BUNDLES, 'latest.json'), join(versionDir, 'models', 'latest.json'));
  const versions = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: versionDir,
    modelsDir: join(versionDir, 'models'),
    refreshMinutes: 15,
    logger: false,
  });
  project.provide('versionServer', {
    url: versions.url,
    adminToken: versions.context.signer.issue('admin', 'admin', 3600).token,
  });
  return async () => {
    await server.close();
    await versions.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(versionDir, { recursive: true, force: true });
  };
}

/** A URL on 127.0.0.1 whose port was free a moment ago and is closed now: connections are refused. */
async function closedPortUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
