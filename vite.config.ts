import send from '@fastify/send';
import { playwright } from '@vitest/browser-playwright';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

// Cross-origin isolation unlocks SharedArrayBuffer, which multi-threaded WASM (ORT, our kernels) needs.
export const crossOriginIsolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// Debian's Chromium is the only browser available here; WebGPU needs the unsafe flag in headless mode
// (it then runs on SwiftShader). Never pass --disable-gpu: it removes the WebGPU adapter.
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-webgpu',
];
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * `vite preview` serves the build only; the lab also reads `/models/` (the bundles folder and its eval
 * packs), which the dev server serves from the repository root. Serve the same folder in preview.
 */
function modelsInPreview(): Plugin {
  return {
    name: 'edgerec-models-in-preview',
    configurePreviewServer(server) {
      server.middlewares.use('/models', (request, response, next) => {
        const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
        send(request, path, { root: 'models', dotfiles: 'deny', index: false }).then(
          ({ statusCode, headers, stream }) => {
            response.writeHead(statusCode, headers);
            stream.pipe(response);
          },
          next,
        );
      });
    },
  };
}

export default defineConfig({
  plugins: [modelsInPreview()],
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  worker: { format: 'es' },
  // The demo's pages: the feed and the quantization lab (vite build would otherwise take index.html only).
  build: { rollupOptions: { input: { main: 'index.html', lab: 'lab.html' } } },
  // The demo pages only: examples/ import the built package by name and have their own builds.
  // tfjs is imported lazily by on-device learning: pre-bundled up front, so a test never sees vite reload.
  optimizeDeps: {
    entries: ['index.html'],
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-core/dist/register_all_gradients',
      '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgpu',
    ],
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          // Vitest's default is one worker fewer than the cores: on CI's two cores, one file at a time. Much
          // of the suite waits on child processes (the CLI tests), so two workers cut its wall clock by a fifth.
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'server',
          include: ['test/server/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // Builds three small real bundles into test/generated/ side by side (the first also records
          // onnxruntime-node's outputs), then starts the real sync server over the first (its URL reaches
          // tests through inject('syncServer')).
          globalSetup: ['test/browser/setup/bundles.global.ts', 'test/browser/setup/server.global.ts'],
          testTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({
              launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
            }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          // The default bundle (built once), vite build, the sync server and vite preview.
          globalSetup: ['test/e2e/setup/app.global.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          environment: 'node',
          // npm run build, npm pack, an offline npm install, the app's vite build, then Chromium.
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
