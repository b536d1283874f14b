import { readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { type BundleSource, BundleSourceError } from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';

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
