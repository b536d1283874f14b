import { existsSync } from 'node:fs';
import { join } from 'node:path';
import setupTinyBundle, { BUNDLE_DIR } from '../../browser/setup/bundle.global.ts';

export const TINY_BUNDLE_DIR = BUNDLE_DIR;
export const TINY_RUN_DIR = join(BUNDLE_DIR, '..', 'run');

/** The small real bundle the browser tests use (built once, ~25 s, into test/generated/). */
export async function ensureTinyBundle(): Promise<string> {
  if (!existsSync(join(BUNDLE_DIR, 'latest.json'))) await setupTinyBundle();
  return BUNDLE_DIR;
}
