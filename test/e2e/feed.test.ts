import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApp } from './support/app.ts';
import { andRerank, feedReady, launch, openTab, type PinInfo, pins, screenshot } from './support/browser.ts';

const { appUrl, artifacts } = inject('e2e');

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => browser?.close());

const share = (list: PinInfo[], topic: string) => list.filter((p) => p.topic === topic).length / list.length;

describe('the demo feed, end to end (vite build + sync server + Chromium)', () => {
  it('saving three pins of one topic makes that topic rise in the feed below', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await openTab(context, appUrl);
    await feedReady(page);
    const first = await pins(page);
    expect(first.length).toBeGreaterThanOrEqual(24);
    // The topic with at least three pins on the first page that is the rarest there: the most room to rise.
    const counts = new Map<string, number>();
    for (const p of first) counts.set(p.topic, (counts.get(p.topic) ?? 0) + 1);
    const [topic] = [...counts].filter(([, n]) => n >= 3).sort((a, b) => a[1] - b[1])[0];
    const before = share(first, topic);

    // Save a pin of the topic, then the next one of it further down the re-ranked feed, three times.
    let current = first;
    let saved: PinInfo | undefined;
    const kept: string[] = [];
    for (let n = 0; n < 3; n++) {
      const pin = current.find((p) => p.topic === topic && (!saved || p.rank > saved.rank));
      expect(pin, `a pin of ${topic} after the save ${n}`).toBeDefined();
      saved = pin!;
      kept.splice(0, kept.length, ...current.filter((p) => p.rank <= saved!.rank).map((p) => p.itemId));
      await andRerank(page, () => page.locator(`.pin[data-item-id="${saved!.itemId}"] .pin-save`).click());
      current = await pins(page);
    }
    const savedButton = page.locator(`.pin[data-item-id="${saved!.itemId}"] .pin-save`);
    expect(await savedButton.getAttribute('aria-pressed')).toBe('true');
    const below = current.filter((p) => p.rank > saved!.rank).slice(0, 24);
    const afterShare = share(below, topic);
    process.stderr.write(
      `[e2e] topic ${topic}: share on the first page ${before.toFixed(3)} → ${afterShare.toFixed(3)} below the third save\n`,
    );
    expect(below.length).toBe(24);
    expect(afterShare).toBeGreaterThan(before);
    expect(afterShare).toBeGreaterThanOrEqual(0.25);
    // The pins up to the last save stay where they were: no jump under the user's eyes.
    expect(current.filter((p) => p.rank <= saved!.rank).map((p) => p.itemId)).toEqual(kept);
    await screenshot(page, artifacts, 'feed-after-saves');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a hidden pin leaves at once and never comes back, across pages and a reload', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const { page, errors } = await openTab(context, appUrl);
    await feedReady(page);
    const [victim] = await pins(page);
    await andRerank(page, () => page.locator(`.pin[data-item-id="${victim.itemId}"] .pin-hide`).click());
    await expect.poll(() => page.locator(`.pin[data-item-id="${victim.itemId}"]`).count()).toBe(0);
    // Infinite scroll: two more pages, none of them with the hidden pin.
    for (let n = 0; n < 2; n++) {
      await andRerank(page, () => page.locator('#feed-end').scrollIntoViewIfNeeded());
      await page.mouse.wheel(0, 4000);
    }
    const scrolled = await pins(page);
    expect(scrolled.length).toBeGreaterThanOrEqual(48);
    expect(scrolled.map((p) => p.itemId)).not.toContain(victim.itemId);
    await page.reload();
    await feedReady(page);
    const reloaded = await pins(page);
    expect(reloaded.length).toBeGreaterThanOrEqual(24);
    expect(reloaded.map((p) => p.itemId)).not.toContain(victim.itemId);
    await screenshot(page, artifacts, 'feed-after-hide');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('reloads with the network cut and still shows a feed, from the service worker and IndexedDB', async () => {
    // Its own app instance, so that cutting the network (stopping both servers) leaves the other tests be.
    const app = await startApp();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const { page } = await openTab(context, app.appUrl);
      await feedReady(page);
      await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      // A returning visit, online: served through the service worker, which keeps the app shell.
      await page.reload();
      await feedReady(page);
      const version = await page.textContent('#engine-info');
      await app.close();
      await page.reload();
      await feedReady(page);
      const offline = await pins(page);
      expect(offline.length).toBeGreaterThanOrEqual(24);
      // The same bundle, now read from IndexedDB.
      expect(await page.textContent('#engine-info')).toContain(
        version!.match(/model version(\d{8}-[0-9a-f]{10})/)![1],
      );
      await expect.poll(() => page.textContent('#sync-info')).toMatch(/offline/);
      await screenshot(page, artifacts, 'feed-offline');
    } finally {
      await context.close();
      await app.close().catch(() => {});
    }
  });

  it('works at phone width and from the keyboard, with no layout shift as pins appear', async () => {
    const context = await browser.newContext({
      viewport: { width: 375, height: 740 },
      isMobile: true,
      hasTouch: true,
    });
    const { page, errors } = await openTab(context, appUrl);
    await page.evaluate(() => {
      (window as unknown as { layoutShift: number }).layoutShift = 0;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries() as (PerformanceEntry & {
          value: number;
          hadRecentInput: boolean;
        })[])
          if (!entry.hadRecentInput)
            (window as unknown as { layoutShift: number }).layoutShift += entry.value;
      }).observe({ type: 'layout-shift', buffered: true });
    });
    await feedReady(page);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(375);
    // Keyboard: tab to the first pin's open button, Enter opens the close-up, Escape closes it.
    const [first] = await pins(page);
    await page.locator(`.pin[data-item-id="${first.itemId}"] .pin-open`).focus();
    await expect
      .poll(() =>
        page
          .locator(`.pin[data-item-id="${first.itemId}"] .pin-why`)
          .evaluate((e) => getComputedStyle(e).opacity),
      )
      .toBe('1');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('dialog#closeup').evaluate((d) => (d as HTMLDialogElement).open))
      .toBe(true);
    await screenshot(page, artifacts, 'closeup-phone');
    await page.keyboard.press('Escape');
    await expect
      .poll(() => page.locator('dialog#closeup').evaluate((d) => (d as HTMLDialogElement).open))
      .toBe(false);
    const shift = await page.evaluate(() => (window as unknown as { layoutShift: number }).layoutShift);
    expect(shift).toBeLessThan(0.05);
    await screenshot(page, artifacts, 'feed-phone');
    expect(errors).toEqual([]);
    await context.close();
  });
});
