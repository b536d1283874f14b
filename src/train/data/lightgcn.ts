import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Dataset } from '../../core/dataset.ts';
import { ACTION_CODE } from '../../core/events.ts';
import { IdIndex } from '../../core/ids.ts';
import { type InteractionLog, InteractionLogBuilder } from '../../core/interactions.ts';
import { DataFormatError } from './errors.ts';
import { type LoadProgress, parseIntegerField, readLines } from './line-reader.ts';

async function readAdjacency(
  file: string,
  users: IdIndex,
  items: IdIndex,
  firstPosition: number,
  onProgress?: LoadProgress,
): Promise<InteractionLog> {
  const log = new InteractionLogBuilder(1 << 16);
  let position = firstPosition;
  for await (const { number, text } of readLines(file, { onProgress })) {
    const parts = text.split(/\s+/);
    const user = users.intern(String(parseIntegerField(parts[0], file, number, 'user id')));
    // LightGCN's files hold users without test items as a bare id; they simply add no rows.
    for (let c = 1; c < parts.length; c++) {
      const item = parseIntegerField(parts[c], file, number, `item id (column ${c + 1})`);
      log.push(user, items.intern(String(item)), ACTION_CODE.click, position++);
    }
  }
  return log.build();
}

/** Loads a LightGCN-style folder: `train.txt` and `test.txt`, each line `user item item ...`. */
export async function loadLightGcn(folder: string, onProgress?: LoadProgress): Promise<Dataset> {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new DataFormatError(
      folder,
      undefined,
      'lightgcn format needs the folder that holds train.txt and test.txt',
    );
  }
  const users = new IdIndex();
  const items = new IdIndex();
  const log = await readAdjacency(join(folder, 'train.txt'), users, items, 0, onProgress);
  const test = await readAdjacency(join(folder, 'test.txt'), users, items, log.length);
  return {
    name: `lightgcn:${basename(folder)}`,
    format: 'lightgcn',
    users,
    items,
    log,
    hasTimestamps: false,
    given: { test },
  };
}
