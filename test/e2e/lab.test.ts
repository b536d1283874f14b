import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launch, openTab, screenshot } from './support/browser.ts';

const { appUrl, artifacts } = inject('e2e');

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
});
