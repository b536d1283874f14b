import type { BundleManifest } from '../../core/bundle/index.ts';
import type { Dataset } from '../../core/dataset.ts';
import { InputError } from '../../core/errors.ts';

/**
 * Refuses a data set other than the one the bundle was built from (its manifest records the counts):
 * windows, snapshots and item rows would silently refer to other users and items.
 */
export function assertBundleData(manifest: BundleManifest, dataset: Dataset, dataPath: string): void {
  const d = manifest.dataset;
  if (d.users !== dataset.users.size || d.items !== dataset.items.size || d.events !== dataset.log.length)
    throw new InputError(
      `bundle ${manifest.version} was built from ${d.users} users / ${d.items} items / ${d.events} events, ` +
        `but ${dataPath} has ${dataset.users.size} / ${dataset.items.size} / ${dataset.log.length}: ` +
        'give the --checkpoint the bundle was built from',
    );
}
