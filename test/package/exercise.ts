/**
 * An example app in Chromium, as a user meets it: the recommendations with their reasons and the backend,
 * a save that re-ranks, one engine worker, ONNX Runtime fetched only once the bundle is in (when the
 * engine's warm-up first runs the ranker), and not one error in the page or its workers.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { expect } from 'vitest';
import { step } from './consumer.ts';

export const ITEMS = 12;

/** ONNX Runtime's own files, JS or WASM, in a built app or under Vite's dev server (as sizes.ts tells them). */
// ONNX Runtime's own files (ort.*.mjs, ort-wasm-*.{mjs,wasm}); edgerec's wrapper of it is src/engine/onnx-runtime.ts,
// whose chunk name this does not match.
const ORT_FILE = /(^|\/)ort[.-][^/]*\.(m?js|wasm)$/;
const ENGINE_WORKER = /engine\.worker/;

export interface ExerciseOptions {
  /** Whether the page must be cross-origin isolated. */
  isolated?: boolean;
  /** What the backend line must say about WASM threads; undefined for an app that does not show them. */
  threads?: RegExp;
  /**
   * Wait for on-device learning (examples/basic shows its backend once it ran): tfjs is a chunk of its own
   * loaded on first use, whose backends must survive the app's tree-shaking and minifier and whose WASM
   * binaries must be emitted and served.
   */
  learning?: boolean;
}

/** What the run saw, for the test's log. */
export interface Exercised {
  /** The backend line after the save. */
  backend: string;
  /** The engine workers the page started, in all (StrictMode's double mount must not make two). */
  engineWorkers: string[];
}

/**
 * Opens the app: 12 recommendations with their reasons, the backend, a save that re-ranks (the saved pin
 * is seen, so it leaves the list), cross-origin isolation as asked, exactly one engine worker over the
 * whole visit, ONNX Runtime requested only after every bundle file, and not one error in the page or its
 * workers. Screenshots go to `artifacts/<label>-*.png`.
 */
export async function exercise(
  browser: Browser,
  url: string,
  label: string,
  artifacts: string,
  { isolated = true, threads, learning = false }: ExerciseOptions = {},
): Promise<Exercised> {
  const errors: string[] = [];
  const requests: string[] = [];
  const engineWorkers: string[] = [];
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
  // Requests of the page and of its workers (nested ones too), in the order they start.
  context.on('request', (request) => requests.push(new URL(request.url()).pathname));
  const page = await context.newPage();
  page.on('worker', (worker) => {
    if (ENGINE_WORKER.test(worker.url())) engineWorkers.push(worker.url());
  });
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
    expect(backend).toMatch(/^retrieval: (webgpu|wasm|js), ranker: (webgpu|wasm)(, wasm threads: \d+)?$/);
    if (threads) expect(backend).toMatch(threads);
    await page.screenshot({ path: join(artifacts, `${label}-recommendations.png`), fullPage: true });

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
    await page.screenshot({ path: join(artifacts, `${label}-after-save.png`), fullPage: true });
    expect(errors).toEqual([]);
    // After the save there is a history, so retrieval runs on its device (WebGPU or the WASM kernel, never
    // the TypeScript fallback) rather than the popularity scan.
    const after = (await page.locator('output').textContent()) ?? '';
    expect(after).toMatch(/^retrieval: (webgpu|wasm), /);
    expect(engineWorkers, 'engine workers started').toHaveLength(1);
    // ONNX Runtime loads when the ranker first runs (the start's warm-up), after the bundle's files: the
    // dynamic import in the engine worker, never at the worker's start nor by the page.
    const firstOrt = requests.findIndex((path) => ORT_FILE.test(path));
    const bundleFiles = requests.flatMap((path, i) =>
      path.includes('/models/') && !path.endsWith('.json') ? [i] : [],
    );
    expect(firstOrt, `an ONNX Runtime request among ${requests.join(', ')}`).toBeGreaterThanOrEqual(0);
    expect(bundleFiles.length).toBeGreaterThan(0);
    expect(firstOrt, 'ONNX Runtime requested after every bundle file').toBeGreaterThan(
      Math.max(...bundleFiles),
    );
    if (learning) {
      const learnt = await step(`${label}: on-device learning`, async () => {
        // A run starts 2 s after the last event; each further save re-renders the backend line.
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
      return { backend: learnt, engineWorkers };
    }
    return { backend: after, engineWorkers };
  } catch (error) {
    await page.screenshot({ path: join(artifacts, `${label}-failure.png`), fullPage: true }).catch(() => {});
    throw new Error(`${(error as Error).message}\nerrors seen:\n${errors.join('\n')}`);
  } finally {
    await context.close();
  }
}
