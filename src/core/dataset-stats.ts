import type { Dataset } from './dataset.ts';
import { ACTIONS } from './events.ts';
import { POSITIVE_CODES } from './interactions.ts';

export interface DatasetStats {
  name: string;
  format: string;
  users: number;
  items: number;
  events: number;
  actions: Record<string, number>;
  /** Distinct (user, item) pairs with a positive action over users × items. */
  density: number;
  positivesPerUser: { mean: number; median: number; max: number };
  itemsWithoutPositives: number;
  timestamps: { first: string; last: string; days: number } | null;
  catalog: { titled: number; withTopics: number; topics: number; boards: number } | null;
  givenSplit: { testRows: number; usersWithNegatives: number } | null;
}

/** A summary of a data set, as `edgerec data stats` prints it. */
export function datasetStats(dataset: Dataset): DatasetStats {
  const { log } = dataset;
  const actions: Record<string, number> = Object.fromEntries(ACTIONS.map((a) => [a, 0]));
  const pairs = new Set<number>();
  const perUser = new Int32Array(dataset.users.size);
  const itemHasPositive = new Uint8Array(dataset.items.size);
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (let r = 0; r < log.length; r++) {
    actions[ACTIONS[log.action[r]]]++;
    first = Math.min(first, log.ts[r]);
    last = Math.max(last, log.ts[r]);
    if (!POSITIVE_CODES.has(log.action[r])) continue;
    const key = log.user[r] * dataset.items.size + log.item[r];
    if (!pairs.has(key)) {
      pairs.add(key);
      perUser[log.user[r]]++;
    }
    itemHasPositive[log.item[r]] = 1;
  }
  const sorted = Array.from(perUser).sort((a, b) => a - b);
  const catalog = dataset.catalog;
  return {
    name: dataset.name,
    format: dataset.format,
    users: dataset.users.size,
    items: dataset.items.size,
    events: log.length,
    actions,
    density: pairs.size / Math.max(1, dataset.users.size * dataset.items.size),
    positivesPerUser: {
      mean: pairs.size / Math.max(1, dataset.users.size),
      median: sorted.length === 0 ? 0 : sorted[sorted.length >> 1],
      max: sorted.length === 0 ? 0 : sorted[sorted.length - 1],
    },
    itemsWithoutPositives: itemHasPositive.length - itemHasPositive.reduce((s, v) => s + v, 0),
    timestamps:
      dataset.hasTimestamps && log.length > 0
        ? {
            first: new Date(first).toISOString(),
            last: new Date(last).toISOString(),
            days: Math.round(((last - first) / 86_400_000) * 10) / 10,
          }
        : null,
    catalog: catalog
      ? {
          titled: catalog.titles.filter((t) => t !== undefined).length,
          withTopics: catalog.topics.filter((t) => t.length > 0).length,
          topics: new Set(catalog.topics.flat()).size,
          boards: catalog.boards?.ids.length ?? 0,
        }
      : null,
    givenSplit: dataset.given
      ? { testRows: dataset.given.test.length, usersWithNegatives: dataset.given.negatives?.size ?? 0 }
      : null,
  };
}
