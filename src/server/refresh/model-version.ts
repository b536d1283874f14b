import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Bundle } from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';
import { directorySource } from '../../train/bundle/directory-source.ts';
import { LATEST_FILE, latestVersion } from '../../train/bundle/publish.ts';

/** The bundle a run's embeddings belong to: its version and the item ids of its table's rows. */
export interface MatchedBundle {
  version: string;
  dir: string;
  itemIds: string[];
}

/** The latest bundle's f32 item table is not the run's: its embeddings would live in another space. */
export class BundleMismatchError extends InputError {
  constructor(
    message: string,
    readonly version: string,
    readonly expectedSha256: string,
    readonly actualSha256: string | undefined,
  ) {
    super(message);
    this.name = 'BundleMismatchError';
  }
}

/**
 * The version of the latest bundle in a registry folder (`<modelsDir>/latest.json` → `<version>/`) whose
 * f32 item table is the one the run trained: a bundle built from a run ships the run's
 * item table (its retrieval space's `items.f32`) bytes unchanged (`buildBundle` reads them with `readTable` and writes the same
 * bytes back), so the manifest's SHA-256 of that table names the run. Anything else is refused.
 */
export async function matchLatestBundle(modelsDir: string, itemsSha256: string): Promise<MatchedBundle> {
  if (!existsSync(modelsDir)) throw new InputError(`the bundle registry ${modelsDir} does not exist`);
  const version = latestVersion(modelsDir);
  if (!version) {
    throw new InputError(
      `${modelsDir} holds no published bundle (${join(modelsDir, LATEST_FILE)} is missing or names a missing version); ` +
        'build one from the run with `edgerec bundle`',
    );
  }
  const dir = join(modelsDir, version);
  const bundle = await Bundle.open(directorySource(dir));
  const table = bundle.manifest.items.find((t) => t.dtype === 'f32');
  if (table?.sha256 !== itemsSha256) {
    const found = table ? `sha256 ${table.sha256.slice(0, 12)}…` : 'no f32 item table';
    throw new BundleMismatchError(
      `the latest bundle ${version} in ${modelsDir} was not built from this run: its f32 item table has ${found}, ` +
        `the run's item table has sha256 ${itemsSha256.slice(0, 12)}…; refusing to write server ` +
        'embeddings into another vector space (rebuild the bundle from this run, or point at the run it came from)',
      version,
      itemsSha256,
      table?.sha256,
    );
  }
  const catalog = await bundle.catalog();
  return { version, dir, itemIds: catalog.ids };
}
