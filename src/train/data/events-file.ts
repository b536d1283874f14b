import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Dataset } from '../../core/dataset.ts';
import { ACTION_CODE, type Event, eventProblems, formatProblem } from '../../core/events.ts';
import { IdIndex } from '../../core/ids.ts';
import { actionName, InteractionLogBuilder } from '../../core/interactions.ts';
import { readCatalog } from './catalog-file.ts';
import { DataFormatError } from './errors.ts';
import { type LoadProgress, readLines } from './line-reader.ts';

export const CATALOG_FILE = 'catalog.json';

/** Loads our own JSONL events (one DESIGN.md event a line), with `catalog.json` beside it when present. */
export async function loadEvents(file: string, onProgress?: LoadProgress): Promise<Dataset> {
  const users = new IdIndex();
  const items = new IdIndex();
  const catalog = readCatalog(join(dirname(file), CATALOG_FILE), items);
  const log = new InteractionLogBuilder(1 << 17);
  for await (const { number, text } of readLines(file, { onProgress })) {
    let candidate: unknown;
    try {
      candidate = JSON.parse(text);
    } catch (error) {
      throw new DataFormatError(file, number, `not valid JSON (${(error as Error).message})`);
    }
    const problems = eventProblems(candidate);
    if (problems.length > 0) throw new DataFormatError(file, number, problems.map(formatProblem).join('; '));
    const event = candidate as Event;
    log.push(users.intern(event.userId), items.intern(event.itemId), ACTION_CODE[event.action], event.ts);
  }
  if (catalog) {
    for (let i = catalog.titles.length; i < items.size; i++) {
      catalog.titles.push(undefined);
      catalog.topics.push([]);
    }
  }
  return {
    name: `events:${basename(dirname(file))}`,
    format: 'events',
    users,
    items,
    log: log.build(),
    hasTimestamps: true,
    catalog,
  };
}

/** Streams a data set's log out as JSONL events; ids are stable (`<prefix>-<row>`) so re-ingestion dedups. */
export async function writeEvents(file: string, dataset: Dataset, idPrefix: string): Promise<void> {
  const out = createWriteStream(file);
  const { log } = dataset;
  let chunk = '';
  for (let r = 0; r < log.length; r++) {
    const event: Event = {
      id: `${idPrefix}-${r}`,
      userId: dataset.users.idOf(log.user[r]),
      itemId: dataset.items.idOf(log.item[r]),
      action: actionName(log.action[r]),
      ts: log.ts[r],
    };
    chunk += `${JSON.stringify(event)}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await finished(out);
}
