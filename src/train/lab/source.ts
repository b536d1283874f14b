import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { type BundleSource, BundleSourceError, MANIFEST_FILE } from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';
import { LATEST_FILE } from '../bundle/publish.ts';

/** A bundle folder on disk as a BundleSource; paths stay inside it. */
export function directorySource(dir: string): BundleSource {
  const root = resolve(dir);
  const locate = (path: string) => {
    const full = resolve(root, path);
    if (!full.startsWith(root + sep))
      throw new BundleSourceError(`${path}: outside the bundle at ${root}`, full);
    return full;
  };
  const read = async (path: string): Promise<Buffer> => {
    const full = locate(path);
    try {
      return await readFile(full);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new InputError(`${full}: no such file`);
      throw new BundleSourceError(`${full}: ${(error as Error).message}`, full, undefined, { cause: error });
    }
  };
  return {
    readText: async (path) => (await read(path)).toString('utf8'),
    readBytes: async (path) => {
      const buffer = await read(path);
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    },
    describe: () => `${root}${sep}`,
  };
}

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
