import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest } from '../../../src/core/bundle/index.ts';
import setupTinyBundle, { BUNDLE_DIR } from '../../browser/setup/bundle.global.ts';

export const TINY_BUNDLE_DIR = BUNDLE_DIR;
export const TINY_RUN_DIR = join(BUNDLE_DIR, '..', 'run');

/** The small real bundle the browser tests use (built once, ~25 s, into test/generated/). */
export async function ensureTinyBundle(): Promise<string> {
  if (!existsSync(join(BUNDLE_DIR, 'latest.json'))) await setupTinyBundle();
  return BUNDLE_DIR;
}

/** The manifest of the version `latest.json` names in a bundles folder. */
export function latestManifest(bundleDir: string): BundleManifest {
  const { version } = JSON.parse(readFileSync(join(bundleDir, 'latest.json'), 'utf8'));
  return JSON.parse(readFileSync(join(bundleDir, version, 'manifest.json'), 'utf8'));
}
