/**
 * Where the benchmark page is served from: Vite's dev server (the default: modules one by one, as in
 * development), or with `--build` a production build of the page (`vite build`: the engine worker and its
 * dependencies bundled into one script, as an app ships them; not minified, see below) served by
 * `vite preview`. Both are cross-origin isolated (SharedArrayBuffer for the threads). The bundles, the
 * peers' ONNX graphs and their wasm files are data the page fetches by path, so the preview serves them
 * from the repository as the dev server does.
 */
import send from '@fastify/send';
import { build, createLogger, createServer, type Logger, type Plugin, preview } from 'vite';
import { crossOriginIsolation } from '../../../vite.config.ts';
import { BENCH_DIR, ROOT } from './artifacts.ts';

export interface BenchSite {
  /** e.g. http://127.0.0.1:5299/ */
  origin: string;
  /** 'dev' or 'build'. */
  kind: 'dev' | 'build';
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const PORT = 5299;
/** The benchmark page, relative to the repository root (and to the server's origin). */
export const BENCH_PAGE = 'test/bench/browser/index.html';
/** The production build's output (inside test/generated, which git ignores). */
const BUILD_DIR = `${BENCH_DIR}/site`;
/** Paths the page fetches as data (bundles, ONNX graphs, the peers' wasm), served from the repository. */
const DATA_PREFIXES = ['/test/generated/', '/models/', '/node_modules/'];

function benchLogger(write: (line: string) => void): Logger {
  const logger = createLogger('warn', { allowClearScreen: false });
  // Vite writes info to stdout; keep stdout for the result alone.
  logger.info = (msg) => write(`[vite] ${msg}`);
  logger.warn = (msg) => write(`[vite] ${msg}`);
  return logger;
}

/** The repository's data files in `vite preview`, with the same isolation headers as the build. */
function dataInPreview(): Plugin {
  return {
    name: 'edgerec-bench-data-in-preview',
    configurePreviewServer(server) {
      server.middlewares.use((request, response, next) => {
        const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
        if (!DATA_PREFIXES.some((prefix) => path.startsWith(prefix))) return next();
        send(request, path, { root: ROOT, dotfiles: 'deny', index: false }).then(
          ({ statusCode, headers, stream }) => {
            response.writeHead(statusCode, { ...headers, ...crossOriginIsolation });
            stream.pipe(response);
          },
          next,
        );
      });
    },
  };
}

export async function startSite(production: boolean, write: (line: string) => void): Promise<BenchSite> {
  const customLogger = benchLogger(write);
  if (production) {
    // configFile: false: the repository's config builds the demo's pages, not this one.
    const shared = { configFile: false as const, root: ROOT, logLevel: 'warn' as const, customLogger };
    await build({
      ...shared,
      worker: { format: 'es' },
      // Bundled but not minified: the tfjs-wasm peer starts its pthreads from one of its functions' source
      // text, which a minifier breaks ("e is not defined" in every pthread), as it would in an app's build.
      build: {
        outDir: BUILD_DIR,
        emptyOutDir: true,
        minify: false,
        rollupOptions: { input: { bench: BENCH_PAGE } },
      },
    });
    const server = await preview({
      ...shared,
      plugins: [dataInPreview()],
      build: { outDir: BUILD_DIR },
      preview: { host: HOST, port: PORT, strictPort: false, headers: crossOriginIsolation },
    });
    const origin = server.resolvedUrls?.local[0];
    if (!origin) throw new Error('vite preview has no local URL');
    return { origin, kind: 'build', close: () => server.close() };
  }
  const server = await createServer({
    configFile: `${ROOT}/vite.config.ts`,
    root: ROOT,
    logLevel: 'warn',
    customLogger,
    clearScreen: false,
    // No file watching and no HMR: other work in the checkout (an edited tsconfig.json, a rebuilt
    // example) must not make Vite reload the page in the middle of a run.
    server: { host: HOST, port: PORT, strictPort: false, hmr: false, watch: null },
    optimizeDeps: {
      // Found up front, so that no dependency discovered mid-run makes Vite reload the page.
      entries: [
        BENCH_PAGE,
        'test/bench/browser/retrieval.worker.ts',
        'workers/engine.worker.ts',
        'src/engine/retrieval/cpu/worker.ts',
      ],
      include: [
        '@tensorflow/tfjs-core',
        '@tensorflow/tfjs-backend-wasm',
        '@tensorflow/tfjs-backend-webgpu',
        'onnxruntime-web/webgpu',
        'comlink',
        'idb',
        'ajv',
        '@petamoriken/float16',
      ],
    },
  });
  await server.listen();
  const origin = server.resolvedUrls?.local[0];
  if (!origin) {
    await server.close();
    throw new Error('the Vite dev server has no local URL');
  }
  return { origin, kind: 'dev', close: () => server.close() };
}
