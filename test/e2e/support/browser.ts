import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { chromiumArgs, chromiumPath } from '../../../vite.config.ts';

export interface Tab {
  page: Page;
  /** Console errors and uncaught exceptions the page produced. */
  errors: string[];
}

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

export async function openTab(context: BrowserContext, url: string): Promise<Tab> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  await page.goto(url);
  return { page, errors };
}

/** Waits for the feed's first page (the bundle loaded, verified and warmed up). */
export async function feedReady(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready]', { timeout: 180_000 });
  const state = await page.getAttribute('body', 'data-ready');
  if (state !== 'true') throw new Error(`the feed did not start: ${await page.textContent('#feed-status')}`);
}

export async function rerankCount(page: Page): Promise<number> {
  return Number((await page.getAttribute('body', 'data-reranks')) ?? 0);
}

/** Runs `act`, then waits until the feed has re-ranked once more. */
export async function andRerank(page: Page, act: () => Promise<void>): Promise<void> {
  const before = await rerankCount(page);
  await act();
  await page.waitForFunction((n) => Number(document.body.dataset.reranks ?? 0) > n, before, {
    timeout: 60_000,
  });
}

export interface PinInfo {
  itemId: string;
  topic: string;
  rank: number;
}

/** The pins on the page, in rank order (the DOM holds them column by column). */
export async function pins(page: Page): Promise<PinInfo[]> {
  const list = await page.$$eval('.pin', (elements) =>
    elements.map((e) => {
      const d = (e as HTMLElement).dataset;
      return { itemId: d.itemId!, topic: d.topic!, rank: Number(d.rank) };
    }),
  );
  return list.sort((a, b) => a.rank - b.rank);
}

export async function screenshot(page: Page, dir: string, name: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}
