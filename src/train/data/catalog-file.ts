import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { ItemCatalog } from '../../core/dataset.ts';
import type { IdIndex } from '../../core/ids.ts';
import { DataFormatError } from './errors.ts';

/** `catalog.json`, the item side of our own `events` format. */
export interface CatalogFile {
  items: { id: string; title?: string; topics?: string[] }[];
  boards?: { id: string; items: string[] }[];
}

function fail(file: string, reason: string): never {
  throw new DataFormatError(file, undefined, reason);
}

/**
 * Reads a catalog and interns its items first, so item indices follow the catalog's order and items
 * nobody has interacted with yet (cold items) still get an index.
 */
export function readCatalog(file: string, items: IdIndex): ItemCatalog | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: CatalogFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as CatalogFile;
  } catch (error) {
    fail(file, `is not valid JSON (${(error as Error).message})`);
  }
  if (!parsed || !Array.isArray(parsed.items)) fail(file, 'must be an object with an "items" array');
  const titles = new Map<number, string>();
  const topics = new Map<number, string[]>();
  parsed.items.forEach((entry, n) => {
    if (typeof entry?.id !== 'string' || entry.id === '')
      fail(file, `items[${n}].id must be a non-empty string`);
    const index = items.intern(entry.id);
    if (entry.title !== undefined) titles.set(index, String(entry.title));
    if (entry.topics !== undefined) {
      if (!Array.isArray(entry.topics)) fail(file, `items[${n}].topics must be an array of strings`);
      topics.set(index, entry.topics.map(String));
    }
  });
  const catalog: ItemCatalog = { titles: [], topics: [] };
  for (let i = 0; i < items.size; i++) {
    catalog.titles.push(titles.get(i));
    catalog.topics.push(topics.get(i) ?? []);
  }
  if (parsed.boards !== undefined) {
    if (!Array.isArray(parsed.boards)) fail(file, '"boards" must be an array');
    catalog.boards = { ids: [], items: [] };
    parsed.boards.forEach((board, n) => {
      if (typeof board?.id !== 'string' || !Array.isArray(board.items)) {
        fail(file, `boards[${n}] must be {"id": string, "items": string[]}`);
      }
      const members = board.items.map((id) => {
        const index = items.indexOf(id);
        if (index === undefined) fail(file, `boards[${n}] names item "${id}", which is not in "items"`);
        return index;
      });
      catalog.boards!.ids.push(board.id);
      catalog.boards!.items.push(Int32Array.from(members));
    });
  }
  return catalog;
}

export async function writeCatalog(file: string, catalog: ItemCatalog, items: IdIndex): Promise<void> {
  const out: CatalogFile = {
    items: catalog.titles.map((title, i) => ({ id: items.idOf(i), title, topics: catalog.topics[i] })),
  };
  if (catalog.boards) {
    out.boards = catalog.boards.ids.map((id, b) => ({
      id,
      items: Array.from(catalog.boards!.items[b], (i) => items.idOf(i)),
    }));
  }
  await writeFile(file, `${JSON.stringify(out)}\n`);
}
