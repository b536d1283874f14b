import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';
import { LATEST_FILE } from '../bundle/publish.ts';

export { directorySource } from '../bundle/directory-source.ts';

/** `models/` (with latest.json) → `models/<version>/`; a bundle folder itself is returned as is. */
export function resolveBundleDir(models: string): string {
  if (existsSync(join(models, MANIFEST_FILE))) return models;
  const latest = join(models, LATEST_FILE);
  if (!existsSync(latest))
    throw new InputError(`${models}: neither a bundle (manifest.json) nor a bundles folder (latest.json)`);
  const { version } = JSON.parse(readFileSync(latest, 'utf8')) as { version?: string };
  if (!version || !existsSync(join(models, version, MANIFEST_FILE)))
    throw new InputError(`${latest}: names no bundle that exists here`);
  return join(models, version);
}
