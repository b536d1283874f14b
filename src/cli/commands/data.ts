import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { datasetStats } from '../../core/dataset-stats.ts';
import { writeCatalog } from '../../train/data/catalog-file.ts';
import { CATALOG_FILE, writeEvents } from '../../train/data/events-file.ts';
import { DEFAULT_SYNTHETIC_OPTIONS, generateSynthetic } from '../../train/data/synthetic/index.ts';
import { loadWithProgress } from '../load-data.ts';
import { parseFormat, positiveInteger } from '../options.ts';
import { Progress } from '../progress.ts';
import { formatTable, printJson } from '../report.ts';

export const EVENTS_FILE = 'events.jsonl';

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('generate and inspect data sets');

  data
    .command('gen')
    .description('generate the seeded synthetic Pinterest-like data set (events.jsonl + catalog.json)')
    .option('--out <dir>', 'output folder', 'data/synthetic')
    .option('--users <n>', 'users', positiveInteger, DEFAULT_SYNTHETIC_OPTIONS.users)
    .option('--items <n>', 'pins', positiveInteger, DEFAULT_SYNTHETIC_OPTIONS.items)
    .option('--events <n>', 'events (rows)', positiveInteger, DEFAULT_SYNTHETIC_OPTIONS.events)
    .option('--seed <n>', 'random seed', positiveInteger, DEFAULT_SYNTHETIC_OPTIONS.seed)
    .option('--json', 'print one JSON object describing what was written')
    .option('--quiet', 'no progress bars')
    .action(async (options) => {
      const started = performance.now();
      const progress = new Progress(!options.quiet);
      const generating = progress.task('generate', 'events');
      const dataset = generateSynthetic(
        { users: options.users, items: options.items, events: options.events, seed: options.seed },
        (done, total) => generating.update(done, total),
      );
      generating.finish();
      mkdirSync(options.out, { recursive: true });
      const eventsFile = join(options.out, EVENTS_FILE);
      const catalogFile = join(options.out, CATALOG_FILE);
      await writeEvents(eventsFile, dataset, `syn${options.seed}`);
      await writeCatalog(catalogFile, dataset.catalog!, dataset.items);
      const summary = {
        events: eventsFile,
        catalog: catalogFile,
        users: dataset.users.size,
        items: dataset.items.size,
        rows: dataset.log.length,
        seed: options.seed,
        seconds: round((performance.now() - started) / 1000),
      };
      if (options.json) printJson(summary);
      else {
        process.stdout.write(
          `wrote ${summary.rows} events of ${summary.users} users on ${summary.items} pins to ${eventsFile}\n` +
            `wrote the catalog (titles, topics, boards) to ${catalogFile}  [${summary.seconds} s, seed ${options.seed}]\n`,
        );
      }
    });

  data
    .command('stats')
    .description('summarise a data set')
    .requiredOption('--data <path>', 'file or folder to read')
    .requiredOption('--format <format>', 'movielens | sequences | lightgcn | ncf | events', parseFormat)
    .option('--json', 'print one JSON object')
    .option('--quiet', 'no progress bars')
    .action(async (options) => {
      const progress = new Progress(!options.quiet);
      const dataset = await loadWithProgress(progress, options.data, options.format);
      const stats = datasetStats(dataset);
      if (options.json) {
        printJson(stats);
        return;
      }
      const rows: [string, string][] = [
        ['data set', `${stats.name} (${stats.format})`],
        ['users', String(stats.users)],
        ['items', String(stats.items)],
        ['events', String(stats.events)],
        ...Object.entries(stats.actions).map(([a, n]): [string, string] => [
          `  ${a}`,
          `${n} (${pct(n, stats.events)})`,
        ]),
        ['density', stats.density.toExponential(3)],
        [
          'positives per user',
          `mean ${stats.positivesPerUser.mean.toFixed(1)}, median ${stats.positivesPerUser.median}, max ${stats.positivesPerUser.max}`,
        ],
        ['items never engaged', String(stats.itemsWithoutPositives)],
        [
          'time span',
          stats.timestamps
            ? `${stats.timestamps.first} → ${stats.timestamps.last} (${stats.timestamps.days} days)`
            : 'none (order only)',
        ],
      ];
      if (stats.catalog) {
        rows.push([
          'catalog',
          `${stats.catalog.titled} titled, ${stats.catalog.withTopics} with topics (${stats.catalog.topics} distinct), ${stats.catalog.boards} boards`,
        ]);
      }
      if (stats.givenSplit) {
        rows.push([
          'given split',
          `${stats.givenSplit.testRows} test rows, ${stats.givenSplit.usersWithNegatives} users with negatives`,
        ]);
      }
      process.stdout.write(formatTable(['', ''], rows, { header: false }));
    });
}

function pct(n: number, total: number): string {
  return `${((100 * n) / Math.max(1, total)).toFixed(1)}%`;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
