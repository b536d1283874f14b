import { existsSync } from 'node:fs';
import { InputError } from '../../core/errors.ts';
import type { Store } from '../store/types.ts';
import { runItemsFile, sha256OfFile, UserEncoder } from './encoder.ts';
import { RefreshJob, type RefreshJobOptions } from './job.ts';
import { matchLatestBundle } from './model-version.ts';

export interface OpenRefreshJobOptions extends Omit<RefreshJobOptions, 'store' | 'encoder' | 'modelVersion'> {
  store: Store;
  /** A trained run folder (`edgerec train --protocol temporal` output). */
  runDir: string;
  /** The bundle registry the app serves (`<modelsDir>/latest.json`, `<modelsDir>/<version>/`). */
  modelsDir: string;
}

/**
 * A refresh job over the run's retrieval space, labelled with the latest bundle's version, once that
 * bundle's f32 item table is shown to be the run's (same SHA-256). Throws an InputError when the run or a
 * published bundle is missing, and a BundleMismatchError when the latest bundle came from another run.
 */
export async function openRefreshJob(options: OpenRefreshJobOptions): Promise<RefreshJob> {
  const { store, runDir, modelsDir, ...jobOptions } = options;
  if (!existsSync(runDir)) throw new InputError(`the training run ${runDir} does not exist`);
  const itemsFile = runItemsFile(runDir);
  if (!existsSync(itemsFile)) {
    throw new InputError(
      `${runDir} is not a trained run: ${itemsFile} is missing (train one with \`edgerec train --protocol temporal\`)`,
    );
  }
  const bundle = await matchLatestBundle(modelsDir, sha256OfFile(itemsFile));
  const encoder = await UserEncoder.load(runDir, { itemIds: bundle.itemIds });
  return new RefreshJob({ ...jobOptions, store, encoder, modelVersion: bundle.version });
}
