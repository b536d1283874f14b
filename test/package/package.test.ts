/**
 * The SDK as a consumer gets it: `npm run build`, `npm pack`, then a fresh Vite app outside the repo (in
 * os.tmpdir(): the example's own index.html and main.ts, importing from `edgerec`) installs the tarball and
 * vite@8 from npm's cache (`--offline`: this repo's `npm ci` has put both there), typechecks against the
 * shipped dist/edgerec.d.ts, builds itself with its own `vite build`, and is served by `vite preview` with
 * the browser tests' small bundle under /models/. Chromium must show 12 recommendations with their reasons
 * and the backend, take a save and re-rank, and log no error. The same page then runs under the app's
 * `vite` dev server, with no settings beyond the two every consumer needs (COOP/COEP, ES module workers).
 * The production build is then served as deployments serve it (static-server.ts): without cross-origin
 * isolation (one WASM thread), with `COEP: credentialless`, and under a strict Content-Security-Policy
 * with no CSP violation reported (and, as the control that the listeners hear one, the same policy
 * without 'wasm-unsafe-eval' must report some). Also: the brotli bytes the app ships (page JS, worker JS,
 * WASM) against a budget, and that importing the SDK in Node (SSR) touches no browser global.
 *
 * Screenshots: test-results/package/*.png. EDGEREC_KEEP_APP=1 keeps the app's folder.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumArgs, chromiumPath } from '../../vite.config.ts';
import setupBundle, { BUNDLE_DIR } from '../browser/setup/bundle.global.ts';
import { type AppSizes, BUDGET, formatSizes, measureApp } from './sizes.ts';
import { CSP_REPORT_PATH, type StaticServer, serveStatic } from './static-server.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = join(ROOT, 'examples', 'basic');
const ARTIFACTS = join(ROOT, 'test-results', 'package');
const ITEMS = 12;
/** Packages only the CLI needs: optional peer dependencies, so a consumer of the SDK never gets them. */
const CLI_ONLY = ['@tensorflow/tfjs', 'onnxruntime-node', 'tsx', 'commander'];

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};
/** The policy issue 16 sets: no 'unsafe-eval', no 'unsafe-inline', workers from the app's origin only. */
const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'";
/** Browser globals a module must not touch when imported on a server (SSR). */
const BROWSER_GLOBALS = [
  'window',
  'document',
  'navigator',
  'self',
  'location',
  'Worker',
  'SharedWorker',
  'indexedDB',
  'localStorage',
  'sessionStorage',
  'crossOriginIsolated',
  'caches',
];

/** The consumer's whole Vite config: cross-origin isolation (threads) and ES module workers. */
const CONSUMER_VITE_CONFIG = `import { defineConfig } from 'vite';

const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  server: { headers },
  preview: { headers },
  worker: { format: 'es' },
});
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'ESNext',
    moduleResolution: 'Bundler',
    lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    types: [],
    strict: true,
    noEmit: true,
    isolatedModules: true,
    skipLibCheck: false,
  },
  include: ['main.ts'],
};

const execFileAsync = promisify(execFile);
const log = (message: string) => process.stderr.write(`[package] ${message}\n`);

/** This process's environment less what `npm run` sets for this repo, so that a child npm sees only its app. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env))
    if (/^npm_(package_|lifecycle_|command$|config_(local_prefix|call)$)/.test(key)) delete env[key];
  return env;
}

/** Runs a command; a failure says what it printed. */
async function sh(command: string, args: string[], cwd: string) {
  try {
    return await execFileAsync(command, args, { cwd, env: childEnv(), maxBuffer: 64 << 20 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`,
    );
  }
}

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await work();
  log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** Starts `vite <args>` in the app on a free port and resolves once it answers. */
async function serve(
  vite: string,
  cwd: string,
  args: string[],
): Promise<{ url: string; server: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const server = spawn(
    process.execPath,
    [vite, ...args, '--host', '127.0.0.1', '--port', String(port), '--strictPort'],
    {
      cwd,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  server.stdout?.on('data', (chunk) => (output += chunk));
  server.stderr?.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null)
      throw new Error(`vite ${args.join(' ')} exited (${server.exitCode}):\n${output}`);
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { url, server };
    if (Date.now() > deadline) throw new Error(`vite ${args.join(' ')} did not answer in 30 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Opens the app: 12 recommendations with their reasons, the backend, a save that re-ranks (the saved pin
 * is seen, so it leaves the list), cross-origin isolation, and not one error in the page or its workers.
 */
async function exercise(
  browser: Browser,
  url: string,
  label: string,
  { isolated = true, threads = /wasm threads: [1-4]$/, learning = false } = {},
): Promise<string> {
  const errors: string[] = [];
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  // CSP violations of the page (its workers' reach the console and the report-uri).
  await context.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (event) =>
      console.error(`securitypolicyviolation: ${event.violatedDirective} blocked ${event.blockedURI}`),
    ),
  );
  // The context's console has the page's and its workers' messages.
  context.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  context.on('weberror', (error) => errors.push(`uncaught: ${error.error().message}`));
  const page = await context.newPage();
  page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`));
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  try {
    await step(`${label}: first recommendations`, async () => {
      await page.goto(url);
      await page
        .locator('li')
        .nth(ITEMS - 1)
        .waitFor({ timeout: 120_000 });
    });
    expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(isolated);
    const rows = await page.locator('li').allTextContents();
    expect(rows).toHaveLength(ITEMS);
    for (const row of rows) expect(row).toMatch(/^\S.* — \S.*Save$/);
    const backend = (await page.locator('output').textContent()) ?? '';
    expect(backend).toMatch(/^retrieval: (webgpu|wasm|js), ranker: (webgpu|wasm), wasm threads: \d+$/);
    expect(backend).toMatch(threads);
    await page.screenshot({ path: join(ARTIFACTS, `${label}-recommendations.png`), fullPage: true });

    await step(`${label}: save and re-rank`, async () => {
      await page.locator('li button').first().click();
      await page.waitForFunction(
        ([saved, n]) => {
          const texts = [...document.querySelectorAll('li')].map((li) => li.textContent);
          return texts.length === n && !texts.includes(saved);
        },
        [rows[0], ITEMS] as const,
        { timeout: 60_000 },
      );
    });
    await page.screenshot({ path: join(ARTIFACTS, `${label}-after-save.png`), fullPage: true });
    expect(errors).toEqual([]);
    // After the save there is a history, so retrieval runs on its device (WebGPU or the WASM kernel, never
    // the TypeScript fallback) rather than the popularity scan.
    const after = (await page.locator('output').textContent()) ?? '';
    expect(after).toMatch(/^retrieval: (webgpu|wasm), /);
    if (learning) {
      // tfjs is a chunk of its own, loaded when learning first runs (a couple of seconds after the save):
      // its backends must survive the app's tree-shaking and its WASM binaries must be emitted and served.
      const learnt = await step(`${label}: on-device learning`, async () => {
        for (let tries = 0; tries < 20; tries++) {
          await page.waitForTimeout(3000);
          await page.locator('li button').first().click();
          await page.waitForTimeout(500);
          const text = (await page.locator('output').textContent()) ?? '';
          if (text.includes('learning: ')) return text;
        }
        throw new Error('on-device learning did not run within a minute');
      });
      expect(learnt).toMatch(/learning: (webgpu|wasm|cpu) of \S*wasm/);
      expect(errors).toEqual([]);
      return learnt;
    }
    return after;
  } catch (error) {
    await page.screenshot({ path: join(ARTIFACTS, `${label}-failure.png`), fullPage: true }).catch(() => {});
    throw new Error(`${(error as Error).message}\nerrors seen:\n${errors.join('\n')}`);
  } finally {
    await context.close();
  }
}

describe('the packed SDK in a fresh Vite app', () => {
  let app: string;
  let vite: string;
  let browser: Browser | undefined;
  const servers: ChildProcess[] = [];
  const statics: StaticServer[] = [];
  let measuring: Promise<AppSizes>;
  const serveBuild = async (headers: Record<string, string>) => {
    const server = await serveStatic(join(app, 'dist'), headers);
    statics.push(server);
    return server;
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    app = mkdtempSync(join(tmpdir(), 'edgerec-consumer-'));
    log(`app: ${app}`);
    // The browser tests' small bundle: their global setup builds it when missing (~25 s), beside our build.
    const bundle = step('bundle', async () => {
      if (!existsSync(join(BUNDLE_DIR, 'latest.json'))) await setupBundle();
    });
    bundle.catch(() => {}); // awaited below
    await step('npm run build', () => sh('npm', ['run', 'build'], ROOT));
    const packed = await step('npm pack', () =>
      sh('npm', ['pack', '--json', '--pack-destination', app], ROOT),
    );
    const [tarball] = JSON.parse(packed.stdout) as { filename: string; size: number; unpackedSize: number }[];
    log(
      `${tarball.filename}: ${(tarball.size / 1024).toFixed(0)} kB, ${(tarball.unpackedSize / 1024).toFixed(0)} kB unpacked`,
    );

    writeFileSync(
      join(app, 'package.json'),
      `${JSON.stringify({ name: 'consumer', private: true, type: 'module' })}\n`,
    );
    for (const file of ['index.html', 'style.css', 'favicon.svg'])
      cpSync(join(EXAMPLE, file), join(app, file));
    // The example as it is, but `?device=webgpu` forces WebGPU retrieval, the only case in which the engine
    // also tries ONNX Runtime's WebGPU EP: the strict-CSP run covers both EPs that way.
    const main = readFileSync(join(EXAMPLE, 'main.ts'), 'utf8');
    const withDevice = main.replace(
      "userId: 'reader-1' }",
      "userId: 'reader-1', device: (new URLSearchParams(location.search).get('device') ?? 'auto') as 'auto' }",
    );
    expect(withDevice).not.toBe(main);
    writeFileSync(join(app, 'main.ts'), withDevice);
    writeFileSync(join(app, 'vite.config.js'), CONSUMER_VITE_CONFIG);
    writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify(CONSUMER_TSCONFIG, null, 2)}\n`);

    const install = ['install', '--no-audit', '--no-fund', `./${tarball.filename}`, 'vite@8'];
    await step('npm install --offline', async () => {
      try {
        await sh('npm', [...install, '--offline'], app);
      } catch (error) {
        // A cache that lacks a registry document (an npm ci from a lockfile with `resolved` URLs fetches
        // tarballs only): let npm ask the registry for what is missing, and only that.
        const line = String(error).match(/.*ENOTCACHED.*/)?.[0];
        if (!line) throw error;
        log(`${line}: installing with --prefer-offline`);
        await sh('npm', [...install, '--prefer-offline'], app);
      }
    });
    expect(JSON.parse(readFileSync(join(app, 'node_modules/edgerec/package.json'), 'utf8')).name).toBe(
      'edgerec',
    );
    for (const name of CLI_ONLY)
      expect(existsSync(join(app, 'node_modules', name)), `${name} installed`).toBe(false);

    await bundle;
    // public/ is what a deployment serves beside the app: `vite build` copies it into dist/.
    cpSync(BUNDLE_DIR, join(app, 'public', 'models'), {
      recursive: true,
      filter: (source) => !source.endsWith('expected.json'),
    });
    vite = join(app, 'node_modules', 'vite', 'bin', 'vite.js');
    const built = await step('vite build (app)', () => sh(process.execPath, [vite, 'build'], app));
    writeFileSync(join(ARTIFACTS, 'app-build.log'), built.stdout + built.stderr);
    measuring = measureApp(join(app, 'dist'));
    measuring.catch(() => {}); // awaited by its test
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [...new Set([...chromiumArgs, '--enable-unsafe-webgpu'])],
    });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    for (const server of servers) server.kill();
    for (const server of statics) await server.close();
    if (app && !process.env.EDGEREC_KEEP_APP) rmSync(app, { recursive: true, force: true });
  });

  it('typechecks against the shipped dist/edgerec.d.ts', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const { stdout } = await sh(
      process.execPath,
      [tsc, '-p', join(app, 'tsconfig.json'), '--traceResolution'],
      app,
    );
    expect(stdout.split('\n').filter((line) => /error TS\d+/.test(line))).toEqual([]);
    // The types come from the package, not from this repo's sources.
    expect(stdout).toMatch(
      /'edgerec' was successfully resolved to '[^']*node_modules\/edgerec\/dist\/edgerec\.d\.ts'/,
    );
  });

  it(`the app's production build (vite preview): ${ITEMS} recommendations, a save re-ranks, no error`, async () => {
    const { url, server } = await step('vite preview', () => serve(vite, app, ['preview']));
    servers.push(server);
    log(`preview: ${await exercise(browser!, url, 'preview', { learning: true })}`);
  });

  it(`the app's dev server (vite, no optimizeDeps settings): the same`, async () => {
    const { url, server } = await step('vite dev', () => serve(vite, app, []));
    servers.push(server);
    log(`dev: ${await exercise(browser!, url, 'dev')}`);
  });

  it('without cross-origin isolation (no COOP/COEP): the same, on one WASM thread', async () => {
    const { url } = await serveBuild({});
    log(
      `not isolated: ${await exercise(browser!, url, 'not-isolated', { isolated: false, threads: /wasm threads: 1$/ })}`,
    );
  });

  it('with COEP: credentialless (isolated, so threads): the same', async () => {
    const { url } = await serveBuild({
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'credentialless',
    });
    log(`credentialless: ${await exercise(browser!, url, 'credentialless')}`);
  });

  it(`under a strict CSP (${STRICT_CSP}): the same, with no violation reported`, async () => {
    const server = await serveBuild({
      ...ISOLATION,
      'Content-Security-Policy': `${STRICT_CSP}; report-uri ${CSP_REPORT_PATH}`,
    });
    const auto = await exercise(browser!, server.url, 'strict-csp', { learning: true });
    log(`strict CSP: ${auto}`);
    // WebGPU retrieval, so ONNX Runtime's WebGPU EP is tried too (its emscripten glue holds a `new Function`).
    const gpu = await exercise(browser!, `${server.url}?device=webgpu`, 'strict-csp-webgpu');
    log(`strict CSP, device webgpu: ${gpu}`);
    expect(gpu).toMatch(/^retrieval: webgpu/);
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
    const sizes = await measuring;
    const table = formatSizes(sizes);
    writeFileSync(join(ARTIFACTS, 'sizes.md'), `${table}\n`);
    log(`sizes (test-results/package/sizes.md):\n${table}`);
    for (const [kind, budget] of Object.entries(BUDGET))
      expect(sizes.totals[kind as keyof typeof BUDGET].brotli, `${kind} brotli bytes`).toBeLessThanOrEqual(
        budget,
      );
    // ONNX Runtime is not in what the page loads first: the engine worker imports it on first use.
    expect(sizes.page.some((row) => row.ort)).toBe(false);
  }, 600_000);

  it('importing the SDK on a server (SSR) touches no browser global', async () => {
    const guard = join(app, 'ssr-guard.mjs');
    writeFileSync(
      guard,
      `const touched = new Set();
for (const name of ${JSON.stringify(BROWSER_GLOBALS)})
  Object.defineProperty(globalThis, name, { configurable: true, get: () => (touched.add(name), undefined) });
const sdk = await import('edgerec');
process.stdout.write(JSON.stringify({ exports: Object.keys(sdk).sort(), touched: [...touched] }));
`,
    );
    const { stdout } = await sh(process.execPath, [guard], app);
    const { exports, touched } = JSON.parse(stdout) as { exports: string[]; touched: string[] };
    expect(exports).toContain('createRecommender');
    expect(touched).toEqual([]);
  });
});
