import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Dataset, ItemCatalog } from '../../core/dataset.ts';
import { ACTION_CODE } from '../../core/events.ts';
import { IdIndex } from '../../core/ids.ts';
import { InteractionLogBuilder } from '../../core/interactions.ts';
import { DataFormatError } from './errors.ts';
import {
  expectColumns,
  type LoadProgress,
  parseIntegerField,
  parseNumberField,
  readLines,
} from './line-reader.ts';

/** The 19 genre flags of ML-100K's u.item, in column order (from its u.genre). */
const ML100K_GENRES = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
];

/** The data-set README's mapping: 4–5 is a save, 3 a click, 1–2 a hide. */
export function actionForRating(rating: number): number {
  if (rating >= 4) return ACTION_CODE.save;
  if (rating >= 3) return ACTION_CODE.click;
  return ACTION_CODE.hide;
}

/** Finds the ratings file: `u.data` (ML-100K) or `ratings.dat` (ML-1M/10M), or the file itself. */
function resolveRatingsFile(path: string): string {
  if (existsSync(path) && statSync(path).isDirectory()) {
    for (const name of ['u.data', 'ratings.dat']) {
      if (existsSync(join(path, name))) return join(path, name);
    }
    throw new DataFormatError(path, undefined, 'folder holds neither u.data nor ratings.dat');
  }
  return path;
}

/**
 * Loads MovieLens ratings as events: every rating is an impression plus the action its value maps to,
 * both at the rating's time. Titles and genres come from `u.item` / `movies.dat` beside it (Latin-1).
 */
export async function loadMovieLens(path: string, onProgress?: LoadProgress): Promise<Dataset> {
  const file = resolveRatingsFile(path);
  const isDat = basename(file).endsWith('.dat');
  const users = new IdIndex();
  const items = new IdIndex();
  const log = new InteractionLogBuilder(1 << 17);
  const layout = isDat ? 'UserID::MovieID::Rating::Timestamp' : 'user \\t item \\t rating \\t timestamp';
  for await (const { number, text } of readLines(file, { onProgress })) {
    const parts = isDat ? text.split('::') : text.split('\t');
    expectColumns(parts, 4, file, number, layout);
    const user = parseIntegerField(parts[0], file, number, 'user id');
    const item = parseIntegerField(parts[1], file, number, 'item id');
    // ML-10M rates in half stars (0.5 to 5); ML-100K and ML-1M in whole stars (1 to 5).
    const rating = parseNumberField(parts[2], file, number, 'rating');
    const seconds = parseIntegerField(parts[3], file, number, 'timestamp');
    if (rating < 0.5 || rating > 5)
      throw new DataFormatError(file, number, `rating must be 0.5 to 5, got ${rating}`);
    const u = users.intern(String(user));
    const i = items.intern(String(item));
    log.push(u, i, ACTION_CODE.impression, seconds * 1000);
    log.push(u, i, actionForRating(rating), seconds * 1000);
  }
  const catalog = await loadMovieLensCatalog(dirname(file), isDat, items);
  return {
    name: `movielens:${basename(dirname(file))}`,
    format: 'movielens',
    users,
    items,
    log: log.build(),
    hasTimestamps: true,
    catalog,
  };
}

async function loadMovieLensCatalog(
  folder: string,
  isDat: boolean,
  items: IdIndex,
): Promise<ItemCatalog | undefined> {
  const file = join(folder, isDat ? 'movies.dat' : 'u.item');
  if (!existsSync(file)) return undefined;
  const titles = new Map<number, string>();
  const genres = new Map<number, string[]>();
  for await (const { number, text } of readLines(file, { encoding: 'latin1' })) {
    if (isDat) {
      const parts = text.split('::');
      expectColumns(parts, 3, file, number, 'MovieID::Title::Genres');
      const id = items.intern(String(parseIntegerField(parts[0], file, number, 'movie id')));
      titles.set(id, parts[1]);
      genres.set(id, parts[2] === '' ? [] : parts[2].split('|'));
    } else {
      const parts = text.split('|');
      expectColumns(
        parts,
        5 + ML100K_GENRES.length,
        file,
        number,
        'item | title | dates | URL | 19 genre flags',
      );
      const id = items.intern(String(parseIntegerField(parts[0], file, number, 'item id')));
      titles.set(id, parts[1]);
      genres.set(
        id,
        ML100K_GENRES.filter((_, g) => parts[5 + g] === '1'),
      );
    }
  }
  const catalog: ItemCatalog = { titles: [], topics: [] };
  for (let i = 0; i < items.size; i++) {
    catalog.titles.push(titles.get(i));
    catalog.topics.push(genres.get(i) ?? []);
  }
  return catalog;
}
