import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Dataset } from '../../core/dataset.ts';
import { ACTION_CODE } from '../../core/events.ts';
import { IdIndex } from '../../core/ids.ts';
import { type InteractionLog, InteractionLogBuilder } from '../../core/interactions.ts';
import { DataFormatError } from './errors.ts';
import { type LoadProgress, parseIntegerField, parseNumberField, readLines } from './line-reader.ts';

async function readRatings(
  file: string,
  users: IdIndex,
  items: IdIndex,
  onProgress?: LoadProgress,
): Promise<{ log: InteractionLog; hasTimestamps: boolean }> {
  const log = new InteractionLogBuilder(1 << 16);
  let hasTimestamps = true;
  for await (const { number, text } of readLines(file, { onProgress })) {
    const parts = text.split('\t');
    if (parts.length < 3 || parts.length > 4) {
      throw new DataFormatError(
        file,
        number,
        `expected 3 or 4 columns (user \\t item \\t rating [\\t timestamp]), found ${parts.length}`,
      );
    }
    const user = users.intern(String(parseIntegerField(parts[0], file, number, 'user id')));
    const item = items.intern(String(parseIntegerField(parts[1], file, number, 'item id')));
    parseNumberField(parts[2], file, number, 'rating');
    const seconds = parts.length === 4 ? parseIntegerField(parts[3], file, number, 'timestamp') : 0;
    if (seconds === 0) hasTimestamps = false;
    // NCF treats every observed rating as implicit positive feedback.
    log.push(user, item, ACTION_CODE.click, seconds * 1000);
  }
  return { log: log.build(), hasTimestamps };
}

/**
 * Loads NCF files: `X.train.rating` (given), with `X.test.rating` and `X.test.negative` beside it;
 * the test file holds each user's held-out item, the negative file the items it is ranked against.
 */
export async function loadNcf(trainFile: string, onProgress?: LoadProgress): Promise<Dataset> {
  if (!trainFile.endsWith('.train.rating')) {
    throw new DataFormatError(trainFile, undefined, 'ncf format needs the path of the .train.rating file');
  }
  const stem = trainFile.slice(0, -'.train.rating'.length);
  const testFile = `${stem}.test.rating`;
  const negativeFile = `${stem}.test.negative`;
  for (const needed of [testFile, negativeFile]) {
    if (!existsSync(needed))
      throw new DataFormatError(needed, undefined, 'file not found (expected beside the .train.rating file)');
  }
  const users = new IdIndex();
  const items = new IdIndex();
  const train = await readRatings(trainFile, users, items, onProgress);
  const test = await readRatings(testFile, users, items);
  const negatives = new Map<number, Int32Array>();
  for await (const { number, text } of readLines(negativeFile)) {
    const parts = text.split('\t');
    const pair = /^\((\d+),(\d+)\)$/.exec(parts[0]);
    if (!pair)
      throw new DataFormatError(
        negativeFile,
        number,
        `first column must be "(user,item)", got "${parts[0]}"`,
      );
    const user = users.indexOf(pair[1]);
    if (user === undefined) throw new DataFormatError(negativeFile, number, `user ${pair[1]} has no ratings`);
    if (parts.length < 2) throw new DataFormatError(negativeFile, number, 'no negative items on the line');
    const row = new Int32Array(parts.length - 1);
    for (let c = 1; c < parts.length; c++) {
      row[c - 1] = items.intern(
        String(parseIntegerField(parts[c], negativeFile, number, `negative item (column ${c + 1})`)),
      );
    }
    negatives.set(user, row);
  }
  return {
    name: `ncf:${basename(stem)}`,
    format: 'ncf',
    users,
    items,
    log: train.log,
    hasTimestamps: train.hasTimestamps,
    given: { test: test.log, negatives },
  };
}
