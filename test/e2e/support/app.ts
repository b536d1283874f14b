import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { preview } from 'vite';
import { startServer } from '../../../src/server/serve.ts';
import { DEFAULT_RUN_DIR } from '../../../src/train/bundle/default-data.ts';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const APP_BUILD_DIR = join(ROOT, '.cache', 'e2e-app');

export interface RunningApp {
  appUrl: string;
  apiUrl: string;
  /** Stops both servers: to the browser, the network is gone. */
  close(): Promise<void>;
}

/**
 * The built demo under `vite preview` (proxying /v1 to the server, as `npm start` does with the dev
 * server) and the real sync server over a fresh data folder (SQLite, its own token secret).
 */
export async function startApp(outDir = APP_BUILD_DIR): Promise<RunningApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgerec-e2e-'));
  const api = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    modelsDir: join(ROOT, 'models'),
    runDir: join(ROOT, DEFAULT_RUN_DIR),
    refreshMinutes: 15,
    logger: false,
  });
  const web = await preview({
    root: ROOT,
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, proxy: { '/v1': api.url, '/healthz': api.url } },
  });
  const address = web.httpServer.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    appUrl: `http://127.0.0.1:${port}/`,
    apiUrl: api.url,
    close: async () => {
      (web.httpServer as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((done) => web.httpServer.close(() => done()));
      await api.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
