import type { DataFormat, Dataset } from '../core/dataset.ts';
import { loadDataset } from '../train/data/load.ts';
import type { Progress } from './progress.ts';

/** Loads a data set for a command, with a byte-progress bar on stderr. */
export async function loadWithProgress(
  progress: Progress,
  path: string,
  format: DataFormat,
): Promise<Dataset> {
  const loading = progress.task('load', 'bytes');
  const dataset = await loadDataset(path, format, (done, total) => loading.update(done, total));
  loading.finish();
  return dataset;
}
