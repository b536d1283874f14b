/**
 * `npm start`: the whole product on one machine. Builds the default bundle when `models/` has none, starts
 * the sync server (SQLite in data/, the registry over models/, the refresh job over data/default-run), then
 * the Vite dev server for the demo, which proxies /v1 to the sync server so the page talks to one origin.
 */
import { createServer } from 'vite';
import { main } from '../src/cli/main.ts';
import { startServer } from '../src/server/index.ts';
import { DEFAULT_RUN_DIR } from '../src/train/bundle/default-data.ts';

const apiPort = Number(process.env.EDGEREC_PORT ?? 8787);
const code = await main(['node', 'edgerec', 'bundle', '--out', 'models', '--if-missing']);
if (code !== 0) process.exit(code);
// The quantization lab's eval packs (/lab.html): built from the default run when missing (~10 s, once).
if ((await main(['node', 'edgerec', 'lab', 'pack', '--models', 'models', '--if-missing', '--quiet'])) !== 0)
  process.stderr.write('edgerec: no eval pack for the lab (see above); the feed works without it\n');

const api = await startServer({
  host: '127.0.0.1',
  port: apiPort,
  dataDir: 'data',
  databaseUrl: process.env.DATABASE_URL || undefined,
  modelsDir: 'models',
  runDir: DEFAULT_RUN_DIR,
  refreshMinutes: 15,
  logger: { level: 'warn' },
});
const web = await createServer({
  server: { proxy: { '/v1': api.url, '/healthz': api.url, '/metrics': api.url } },
});
await web.listen();
web.printUrls();
process.stdout.write(
  `  ➜  sync server: ${api.url} (${api.context.store.kind}; refresh job ${api.context.refresh ? 'on' : 'off'})\n`,
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await web.close();
  await api.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
