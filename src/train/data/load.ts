import type { DataFormat, Dataset } from '../../core/dataset.ts';
import { loadEvents } from './events-file.ts';
import { loadLightGcn } from './lightgcn.ts';
import type { LoadProgress } from './line-reader.ts';
import { loadMovieLens } from './movielens.ts';
import { loadNcf } from './ncf.ts';
import { loadSequences } from './sequences.ts';

const LOADERS: Record<DataFormat, (path: string, onProgress?: LoadProgress) => Promise<Dataset>> = {
  movielens: loadMovieLens,
  sequences: loadSequences,
  lightgcn: loadLightGcn,
  ncf: loadNcf,
  events: loadEvents,
};

/** Loads any supported format; every loader streams its files and throws DataFormatError on bad input. */
export function loadDataset(path: string, format: DataFormat, onProgress?: LoadProgress): Promise<Dataset> {
  return LOADERS[format](path, onProgress);
}
