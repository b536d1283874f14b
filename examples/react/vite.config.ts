/**
 * The React example, run from the SDK's sources inside this repo: `npx vite examples/react` (dev server,
 * with the repo's `models/` under /models/) and `npm run build:example:react`. Like examples/basic, plus
 * @vitejs/plugin-react (JSX, fast refresh). An app of your own needs only `headers`
 * and `worker` from here (see the README); the alias and the /models/ route exist because the example
 * lives in the repo rather than next to an installed package and a deployed bundle.
 */
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { type Connect, defineConfig } from 'vite';

// Cross-origin isolation: SharedArrayBuffer, so that ORT and the WASM retriever can use threads.
const headers = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
const MODELS = fileURLToPath(new URL('../../models/', import.meta.url));

const serveModels: Connect.NextHandleFunction = (req, res, next) => {
  const file = normalize(join(MODELS, decodeURIComponent((req.url ?? '/').split('?')[0])));
  if (!file.startsWith(MODELS) || !statSync(file, { throwIfNoEntry: false })?.isFile()) return next();
  res.setHeader('Content-Type', extname(file) === '.json' ? 'application/json' : 'application/octet-stream');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  createReadStream(file).pipe(res);
};

export default defineConfig({
  resolve: {
    alias: [
      {
        find: /^edgerec\/react$/,
        replacement: fileURLToPath(new URL('../../src/react/index.ts', import.meta.url)),
      },
      { find: /^edgerec$/, replacement: fileURLToPath(new URL('../../src/sdk/index.ts', import.meta.url)) },
    ],
  },
  server: { headers },
  preview: { headers },
  // The engine worker splits code (ORT loads on demand) and starts workers of its own: ES module workers.
  worker: { format: 'es' },
  plugins: [
    react(),
    {
      name: 'edgerec-example:models',
      configureServer: (server) => void server.middlewares.use('/models', serveModels),
      configurePreviewServer: (server) => void server.middlewares.use('/models', serveModels),
    },
  ],
});
