import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isLearnedVariant, REPLAY_METRICS } from '../../src/core/replay/index.ts';
import { launch, openTab, screenshot } from './support/browser.ts';
import { E2E_REPLAY } from './support/replay.ts';

const { appUrl, artifacts, replay } = inject('e2e');

/**
 * How far the page's learning rows may be from Node's: test/browser/lab.test.ts's LEARNED_TOLERANCE (the
 * same tfjs wasm kernels in Node and in the lab worker). The other rows agree to float64 rounding.
 */
const LEARNED_TOLERANCE = 1e-12;

/** The lab page, loaded, on its Replay tab. */
async function replayTab(page: Page): Promise<void> {
  await page.waitForSelector('body[data-lab-state=ready]', { timeout: 120_000 });
  await page.locator('#lab-tab-replay').click();
  await page.waitForSelector('#replay-form', { state: 'visible' });
  expect(await page.locator('#lab-panel-quant').isHidden()).toBe(true);
}

async function chooseSplit(page: Page, split: string): Promise<void> {
  await page.locator(`input[name="replay-split"][value="${split}"]`).check();
}

/** Ticks exactly `wanted` among the checkboxes named `name`. */
async function pick(page: Page, name: string, wanted: readonly string[]): Promise<void> {
  for (const input of await page.locator(`input[name="${name}"]`).all()) {
    const on = wanted.includes((await input.getAttribute('value')) ?? '');
    if ((await input.isChecked()) !== on) await input.setChecked(on);
  }
}

async function runReplay(page: Page): Promise<string> {
  await page.locator('#replay-run').click();
  await page.waitForSelector('body[data-replay-state=done], body[data-replay-state=error]', {
    timeout: 300_000,
  });
  return (await page.getAttribute('body', 'data-replay-state')) ?? '';
}

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

describe('the quantization lab, end to end', () => {
  it('runs the evaluation in its worker, with progress, and renders the results table', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await openTab(context, new URL('lab.html', appUrl).href);
    await page.waitForSelector('body[data-lab-state=ready]', { timeout: 120_000 });
    // A small run: the f32 and i8 tables and the fp32 and int8 rankers, on wasm.
    for (const input of await page
      .locator('input[name=items], input[name=rankers], input[name=devices]')
      .all()) {
      const value = await input.getAttribute('value');
      const wanted = ['f32', 'i8', 'fp32', 'int8', 'wasm'].includes(value ?? '');
      if ((await input.isChecked()) !== wanted) await input.setChecked(wanted);
    }
    await page.locator('#lab-run').click();
    await page.waitForSelector('body[data-lab-state=running]', { timeout: 30_000 }).catch(() => {});
    await page.waitForSelector('body[data-lab-state=done], body[data-lab-state=error]', { timeout: 300_000 });
    expect(await page.getAttribute('body', 'data-lab-state')).toBe('done');
    const progress = await page.locator('#lab-progress').evaluate((p) => {
      const bar = p as HTMLProgressElement;
      return bar.value / bar.max;
    });
    expect(progress).toBe(1);
    const rows = await page.locator('#lab-results table tbody tr').allTextContents();
    process.stderr.write(`[e2e] lab rows:\n${rows.join('\n')}\n`);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(rows.some((r) => r.includes('i8'))).toBe(true);
    expect(await page.locator('#lab-export-json').count()).toBe(1);
    expect(await page.locator('#lab-export-csv').count()).toBe(1);
    await screenshot(page, artifacts, 'lab-results');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('replays the bundle’s pack in the Replay tab: the chosen variants, with the Node replay’s numbers', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await openTab(context, new URL('lab.html', appUrl).href);
    await replayTab(page);
    await chooseSplit(page, E2E_REPLAY.split);
    await pick(page, 'replay-variants', E2E_REPLAY.variants);
    const state = await runReplay(page);
    expect(state, (await page.textContent('#replay-status')) ?? '').toBe('done');
    expect(await page.locator('#replay-progress').evaluate((p) => (p as HTMLProgressElement).value)).toBe(1);

    const header = await page.locator('#replay-table thead th').allTextContents();
    expect(header).toEqual(['variant', ...REPLAY_METRICS]);
    const rows = await page.locator('#replay-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        variant: tr.querySelector('th')?.textContent ?? '',
        shown: [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''),
        values: [...tr.querySelectorAll('td')].map((td) => Number((td as HTMLElement).dataset.value)),
      })),
    );
    process.stderr.write(
      `[e2e] replay rows (${replay.maxUsers} users, ${replay.requests} requests):\n${rows
        .map((r) => `${r.variant} ${r.shown.join(' ')}`)
        .join('\n')}\n`,
    );
    expect(rows.map((r) => r.variant)).toEqual(E2E_REPLAY.variants);
    const summary = (await page.textContent('#replay-summary')) ?? '';
    expect(summary).toContain(`a seeded sample of ${replay.maxUsers} users (seed ${replay.seed})`);
    expect(summary).toContain(`${replay.requests} feed requests`);
    expect(summary).toContain('The learning variants ran on tfjs wasm.');
    for (const row of rows) {
      const want = replay.rows.find((r) => r.variant === row.variant)!;
      const tolerance = isLearnedVariant(row.variant) ? LEARNED_TOLERANCE : 1e-12;
      REPLAY_METRICS.forEach((metric, k) => {
        const value = row.values[k];
        expect(value, `${row.variant} ${metric}`).toBeGreaterThanOrEqual(0);
        expect(value, `${row.variant} ${metric}`).toBeLessThanOrEqual(1);
        expect(row.shown[k]).toBe(value.toFixed(4));
        expect(Math.abs(value - want.metrics[metric]), `${row.variant} ${metric}`).toBeLessThanOrEqual(
          tolerance,
        );
      });
    }
    // Not vacuous: the sample finds engaged pins.
    expect(rows.some((r) => r.values[0] > 0)).toBe(true);
    await screenshot(page, artifacts, 'lab-replay');

    expect(errors).toEqual([]);

    // A window the bundle has no pack for: the tab says so, and how to write one.
    if (!replay.testPack) {
      await chooseSplit(page, 'test');
      expect(await runReplay(page)).toBe('error');
      const status = (await page.textContent('#replay-status')) ?? '';
      expect(status).toMatch(/^failed: .*lab\/replay-test\.json: no replay pack/);
      expect(status).toContain('edgerec replay --split test --max-users N --write-pack');
    }
    // Chromium logs the missing pack's 404 to the console: that one is expected.
    expect(errors.filter((e) => !/Failed to load resource: .* 404/.test(e))).toEqual([]);
    await context.close();
  });
});
