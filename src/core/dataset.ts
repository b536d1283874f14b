import type { IdIndex } from './ids.ts';
import type { InteractionLog } from './interactions.ts';

export const DATA_FORMATS = ['movielens', 'sequences', 'lightgcn', 'ncf', 'events'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/** What is known about the items beyond their ids, aligned with the item index. */
export interface ItemCatalog {
  titles: (string | undefined)[];
  /** Topics (synthetic data), genres (MovieLens) or empty lists. */
  topics: string[][];
  /** Boards group items (PinSage's pin–board graph); absent where a data set has none. */
  boards?: { ids: string[]; items: Int32Array[] };
}

/** A split that ships with the data (LightGCN and NCF files); protocols use it instead of making their own. */
export interface GivenSplit {
  test: InteractionLog;
  /** NCF: the negatives each user's test item is ranked against, by user index. */
  negatives?: Map<number, Int32Array>;
}

export interface Dataset {
  name: string;
  format: DataFormat;
  users: IdIndex;
  items: IdIndex;
  /** Every interaction the files hold (the training file only, where a split is given). */
  log: InteractionLog;
  /** False where `ts` holds file positions instead of clock times. */
  hasTimestamps: boolean;
  catalog?: ItemCatalog;
  given?: GivenSplit;
}
