/**
 * The SDK as a consumer gets it: `npm run build`, `npm pack`, then fresh Vite apps outside the repo (in
 * os.tmpdir(), consumer.ts): examples/basic (index.html and main.ts, importing from `edgerec`) and
 * examples/react (main.tsx under StrictMode, importing `edgerec/react`, with @vitejs/plugin-react), which
 * share one install of the tarball, Vite and React from npm's cache (`--offline`: this repo's `npm ci`
 * has put them there). Each typechecks against the shipped dist/edgerec.d.ts (and dist/react.d.ts), builds
 * itself with its own `vite build`, and is served by `vite preview` with the browser tests' small bundle
 * under /models/. Chromium must show 12 recommendations with their reasons and the backend, take a save and
 * re-rank, start exactly one engine worker (the React app under StrictMode's double mount too), fetch ONNX
 * Runtime only after the bundle, and log no error (exercise.ts). The basic page then runs under the app's
 * `vite` dev server, with no settings beyond the two every consumer needs (COOP/COEP, ES module workers).
 * Its production build is then served as deployments serve it (static-server.ts): without cross-origin
 * isolation (one WASM thread), with `COEP: credentialless`, and under a strict Content-Security-Policy
 * with no CSP violation reported (and, as the control that the listeners hear one, the same policy
 * without 'wasm-unsafe-eval' must report some). Also: the brotli bytes each app ships (page JS, worker JS,
 * WASM), the basic one against a budget, and server-side rendering: importing `edgerec` and
 * `edgerec/react` in Node and rendering `useRecommender` with react-dom/server touches no browser global.
 *
 * Screenshots: test-results/package/*.png. EDGEREC_KEEP_APP=1 keeps the apps' folder.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumArgs, chromiumPath } from '../../vite.config.ts';
import setupBundle, { BUNDLE_DIR } from '../browser/setup/bundle.global.ts';
import { expectServerSafe, runSsrGuard, SSR_GUARD } from '../shared/ssr.ts';
import {
  buildExample,
  type ConsumerApp,
  type ConsumerInstall,
  installConsumer,
  log,
  serveVite,
  sh,
  step,
} from './consumer.ts';
import { exercise } from './exercise.ts';
import { type AppSizes, BUDGET, formatSizes, formatSummary, measureApp } from './sizes.ts';
import { CSP_REPORT_PATH, type StaticServer, serveStatic } from './static-server.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = join(ROOT, 'test-results', 'package');
/** Packages only the CLI needs: optional peer dependencies, so a consumer of the SDK never gets them. */
const CLI_ONLY = ['@tensorflow/tfjs', 'onnxruntime-node', 'tsx', 'commander'];

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
/** The policy issue 16 sets: no 'unsafe-eval', no 'unsafe-inline', workers from the app's origin only. */
const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'";

describe('the packed SDK in fresh Vite apps', () => {
  let install: ConsumerInstall;
  let basic: ConsumerApp;
  let react: ConsumerApp;
  let browser: Browser | undefined;
  const servers: ChildProcess[] = [];
  const statics: StaticServer[] = [];
  let measuring: Promise<[AppSizes, AppSizes]>;
  const serveBuild = async (headers: Record<string, string>) => {
    const server = await serveStatic(basic.dist, headers);
    statics.push(server);
    return server;
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'edgerec-consumer-'));
    log(`apps: ${dir}`);
    // The browser tests' small bundle: their global setup builds it when missing (~25 s), beside our build.
    const bundle = step('bundle', async () => {
      if (!existsSync(join(BUNDLE_DIR, 'latest.json'))) await setupBundle();
    });
    bundle.catch(() => {}); // awaited below
    install = await installConsumer(ROOT, dir);
    expect(JSON.parse(readFileSync(join(dir, 'node_modules/edgerec/package.json'), 'utf8')).name).toBe(
      'edgerec',
    );
    for (const name of CLI_ONLY)
      expect(existsSync(join(dir, 'node_modules', name)), `${name} installed`).toBe(false);
    await bundle;

    basic = await buildExample(
      ROOT,
      install,
      {
        name: 'basic',
        main: 'main.ts',
        // The example as it is, but `?device=webgpu` forces WebGPU retrieval, the only case in which the
        // engine also tries ONNX Runtime's WebGPU EP: the strict-CSP run covers both EPs that way.
        edit: (main) =>
          main.replace(
            "userId: 'reader-1' }",
            "userId: 'reader-1', device: (new URLSearchParams(location.search).get('device') ?? 'auto') as 'auto' }",
          ),
      },
      BUNDLE_DIR,
      ARTIFACTS,
    );
    react = await buildExample(
      ROOT,
      install,
      { name: 'react', main: 'main.tsx', react: true },
      BUNDLE_DIR,
      ARTIFACTS,
    );
    measuring = Promise.all([measureApp(basic.dist), measureApp(react.dist)]);
    measuring.catch(() => {}); // awaited by its test
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [...new Set([...chromiumArgs, '--enable-unsafe-webgpu'])],
    });
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    for (const server of servers) server.kill();
    for (const server of statics) await server.close();
    if (install && !process.env.EDGEREC_KEEP_APP) rmSync(install.dir, { recursive: true, force: true });
  });

  it.each([
    ['basic', 'edgerec.d.ts', 'edgerec'],
    ['react', 'react.d.ts', 'edgerec/react'],
  ])('%s: typechecks against the shipped dist/%s', async (name, types, specifier) => {
    const app = name === 'basic' ? basic : react;
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const { stdout } = await sh(
      process.execPath,
      [tsc, '-p', join(app.dir, 'tsconfig.json'), '--traceResolution'],
      app.dir,
    );
    expect(stdout.split('\n').filter((line) => /error TS\d+/.test(line))).toEqual([]);
    // The types come from the package, not from this repo's sources.
    const escaped = specifier.replace('/', '\\/');
    expect(stdout).toMatch(
      new RegExp(`'${escaped}' was successfully resolved to '[^']*node_modules/edgerec/dist/${types}'`),
    );
  });

  it("basic: the app's production build (vite preview): 12 recommendations, a save re-ranks, no error", async () => {
    const { url, server } = await step('vite preview (basic)', () =>
      serveVite(install.vite, basic.dir, ['preview']),
    );
    servers.push(server);
    const seen = await exercise(browser!, url, 'preview', ARTIFACTS, {
      threads: /wasm threads: [1-4]$/,
      learning: true,
    });
    log(`preview: ${seen.backend}`);
  });

  it('react: the production build under StrictMode: the same, with exactly one engine worker', async () => {
    const { url, server } = await step('vite preview (react)', () =>
      serveVite(install.vite, react.dir, ['preview']),
    );
    servers.push(server);
    // exercise() counts the engine workers the page started over the whole visit: StrictMode mounts,
    // unmounts and mounts again, and the shared recommender must not start a second one.
    const seen = await exercise(browser!, url, 'react-preview', ARTIFACTS);
    log(`react preview: ${seen.backend}; engine workers: ${seen.engineWorkers.join(', ')}`);
  });

  it(`basic: the app's dev server (vite, no optimizeDeps settings): the same`, async () => {
    const { url, server } = await step('vite dev (basic)', () => serveVite(install.vite, basic.dir, []));
    servers.push(server);
    const seen = await exercise(browser!, url, 'dev', ARTIFACTS, { threads: /wasm threads: [1-4]$/ });
    log(`dev: ${seen.backend}`);
  });

  it('without cross-origin isolation (no COOP/COEP): the same, on one WASM thread', async () => {
    const { url } = await serveBuild({});
    const seen = await exercise(browser!, url, 'not-isolated', ARTIFACTS, {
      isolated: false,
      threads: /wasm threads: 1$/,
    });
    log(`not isolated: ${seen.backend}`);
  });

  it('with COEP: credentialless (isolated, so threads): the same', async () => {
    const { url } = await serveBuild({
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'credentialless',
    });
    const seen = await exercise(browser!, url, 'credentialless', ARTIFACTS, {
      threads: /wasm threads: [1-4]$/,
    });
    log(`credentialless: ${seen.backend}`);
  });

  it(`under a strict CSP (${STRICT_CSP}): the same, with no violation reported`, async () => {
    const server = await serveBuild({
      ...ISOLATION,
      'Content-Security-Policy': `${STRICT_CSP}; report-uri ${CSP_REPORT_PATH}`,
    });
    const threads = /wasm threads: [1-4]$/;
    const auto = await exercise(browser!, server.url, 'strict-csp', ARTIFACTS, { threads, learning: true });
    log(`strict CSP: ${auto.backend}`);
    // WebGPU retrieval, so ONNX Runtime's WebGPU EP is tried too (its emscripten glue holds a `new Function`).
    const gpu = await exercise(browser!, `${server.url}?device=webgpu`, 'strict-csp-webgpu', ARTIFACTS, {
      threads,
    });
    log(`strict CSP, device webgpu: ${gpu.backend}`);
    expect(gpu.backend).toMatch(/^retrieval: webgpu/);
    expect(server.reports).toEqual([]);
  }, 360_000);

  it("the control: without 'wasm-unsafe-eval' the page's and the workers' listeners hear violations", async () => {
    const server = await serveBuild({
      ...ISOLATION,
      'Content-Security-Policy': `${STRICT_CSP.replace(" 'wasm-unsafe-eval'", '')}; report-uri ${CSP_REPORT_PATH}`,
    });
    const context = await browser!.newContext();
    const logged: string[] = [];
    context.on('console', (message) => logged.push(message.text()));
    try {
      await (await context.newPage()).goto(server.url);
      // The engine worker compiles WASM (retrieval kernels, ONNX Runtime) while it starts: refused here.
      // Both listeners: the reports (page and workers) and the console (whose worker messages come later).
      const heard = () =>
        server.reports.length > 0 && logged.some((text) => /Content Security Policy/.test(text));
      for (let i = 0; i < 600 && !heard(); i++) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await context.close();
    }
    expect(server.reports.length).toBeGreaterThan(0);
    expect(JSON.stringify(server.reports)).toMatch(/wasm-eval|wasm-unsafe-eval|script-src/);
    expect(logged.join('\n')).toMatch(/Content Security Policy/);
  });

  it(`ships at most the budget in brotli bytes (${Object.entries(BUDGET)
    .map(([kind, bytes]) => `${kind} ${(bytes / 1024).toFixed(0)} kB`)
    .join(', ')})`, async () => {
    const [sizes, reactSizes] = await measuring;
    const table = formatSizes(sizes);
    const summary = formatSummary({ 'examples/basic': sizes, 'examples/react': reactSizes });
    writeFileSync(join(ARTIFACTS, 'sizes.md'), `${table}\n\n${summary}\n`);
    log(`sizes (test-results/package/sizes.md):\n${table}\n\n${summary}`);
    // The budget is the SDK's: the basic app ships nothing else. The React app's page JS is React's own.
    for (const [kind, budget] of Object.entries(BUDGET))
      expect(sizes.totals[kind as keyof typeof BUDGET].brotli, `${kind} brotli bytes`).toBeLessThanOrEqual(
        budget,
      );
    // ONNX Runtime is not in what the page loads first: the engine worker imports it on first use.
    expect(sizes.page.some((row) => row.ort)).toBe(false);
    expect(reactSizes.page.some((row) => row.ort)).toBe(false);
  }, 600_000);

  it('server-side rendering: importing edgerec and edgerec/react, and rendering useRecommender, touch no browser global', async () => {
    // In the install's folder, so that the guard's `react` is the app's, the one edgerec/react resolves.
    const guard = join(install.dir, 'ssr-guard.mjs');
    cpSync(SSR_GUARD, guard);
    expectServerSafe(await runSsrGuard(guard, ['edgerec', 'edgerec/react'], { cwd: install.dir }));
  });
});
