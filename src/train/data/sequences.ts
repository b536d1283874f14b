import { basename } from 'node:path';
import type { Dataset } from '../../core/dataset.ts';
import { ACTION_CODE } from '../../core/events.ts';
import { IdIndex } from '../../core/ids.ts';
import { InteractionLogBuilder } from '../../core/interactions.ts';
import { expectColumns, type LoadProgress, parseIntegerField, readLines } from './line-reader.ts';

/**
 * Loads a SASRec-style `user item` file: one implicit interaction a line, each user's lines in time order.
 * There is no clock, so `ts` is the line number, which keeps every user's order.
 */
export async function loadSequences(file: string, onProgress?: LoadProgress): Promise<Dataset> {
  const users = new IdIndex();
  const items = new IdIndex();
  const log = new InteractionLogBuilder(1 << 17);
  for await (const { number, text } of readLines(file, { onProgress })) {
    const parts = text.split(/\s+/);
    expectColumns(parts, 2, file, number, 'user item');
    const user = parseIntegerField(parts[0], file, number, 'user id');
    const item = parseIntegerField(parts[1], file, number, 'item id');
    log.push(users.intern(String(user)), items.intern(String(item)), ACTION_CODE.click, number);
  }
  return {
    name: `sequences:${basename(file)}`,
    format: 'sequences',
    users,
    items,
    log: log.build(),
    hasTimestamps: false,
  };
}
