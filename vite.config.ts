import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';

// Cross-origin isolation unlocks SharedArrayBuffer, which multi-threaded WASM (ORT, our kernels) needs.
const crossOriginIsolation = {
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

export default defineConfig({
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  worker: { format: 'es' },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
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
          // Builds a small real bundle into test/generated/bundle/ and records onnxruntime-node's outputs.
          globalSetup: ['test/browser/setup/bundle.global.ts'],
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
