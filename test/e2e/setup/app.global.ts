/**
 * Global setup of the end-to-end project: the product as a user gets it. Makes sure the default bundle
 * (and the lab's eval packs) exist — `npm start` builds the same, ~3 min once — and the replay pack of the
 * lab's Replay tab with the Node replay's numbers on it (support/replay.ts), builds the demo with
 * `vite build` (the production build carries the service worker an offline reload needs), and starts
 * one shared app (`support/app.ts`): the sync server and `vite preview`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';
import { APP_BUILD_DIR, ROOT, startApp } from '../support/app.ts';
import { type E2eReplayExpected, replayExpected } from '../support/replay.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: { appUrl: string; apiUrl: string; artifacts: string; replay: E2eReplayExpected };
  }
}

function cli(args: string[]): void {
  const result = spawnSync('node', [join(ROOT, 'bin/edgerec.mjs'), ...args], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`edgerec ${args.join(' ')} exited with ${result.status}`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (message: string) => process.stderr.write(`[e2e setup] ${message}\n`);
  log('default bundle (built once when models/ has none, ~3 min)');
  cli(['bundle', '--out', 'models', '--if-missing', '--quiet']);
  cli(['lab', 'pack', '--models', 'models', '--if-missing', '--quiet']);
  log('replay pack (written when missing) and the Node replay on it');
  const started = performance.now();
  const replay = await replayExpected(ROOT);
  log(
    `replay: ${replay.maxUsers} users, ${replay.requests} requests, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  log('vite build of the demo');
  await build({ root: ROOT, logLevel: 'warn', build: { outDir: APP_BUILD_DIR, emptyOutDir: true } });
  const app = await startApp();
  log(`app ${app.appUrl}, sync server ${app.apiUrl}`);
  project.provide('e2e', {
    appUrl: app.appUrl,
    apiUrl: app.apiUrl,
    artifacts: join(ROOT, 'test-results', 'e2e'),
    replay,
  });
  return () => app.close();
}
