import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError } from '../../core/errors.ts';
import { buildSplit, PROTOCOLS } from '../../core/eval/split.ts';
import {
  defaultMetric,
  parseGrid,
  TUNABLE,
  TUNABLE_MODELS,
  type TunableModel,
  type TuneProtocol,
  tune,
} from '../../train/tune/index.ts';
import { loadWithProgress } from '../load-data.ts';
import { nonNegativeInteger, oneOf, parseFormat, parsePositives, positiveInteger } from '../options.ts';
import { Progress, type ProgressTask } from '../progress.ts';
import { formatTable, printJson } from '../report.ts';

const TUNE_PROTOCOLS = [...PROTOCOLS, 'item2item'] as const;

function readGrid(path: string, model: TunableModel): Record<string, unknown[]> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`--grid ${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  return parseGrid(text, path, model, TUNABLE[model].options);
}

const formatValue = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

export function registerTuneCommand(program: Command): void {
  program
    .command('tune')
    .description(
      'grid search on the validation stage only: fit every configuration of --grid, score it on validation, ' +
        'print the table and the winner (the test stage is never read)',
    )
    .requiredOption('--data <path>', 'file or folder to read')
    .requiredOption('--format <format>', 'movielens | sequences | lightgcn | ncf | events', parseFormat)
    .requiredOption('--model <model>', TUNABLE_MODELS.join(' | '), oneOf(TUNABLE_MODELS, 'model'))
    .requiredOption(
      '--grid <file>',
      'JSON object: option name → list of values, e.g. {"dim": [32, 64], "learningRate": [0.05, 0.1]}; {} = defaults',
    )
    .option('--protocol <protocol>', TUNE_PROTOCOLS.join(' | '), oneOf(TUNE_PROTOCOLS, 'protocol'), 'sasrec')
    .option('--metric <name>', 'validation metric to sort by (default NDCG@10; Recall@10 for temporal)')
    .option(
      '--seed <n>',
      'seeds model initialisation (n + 1), negative and user sampling (n)',
      nonNegativeInteger,
      0,
    )
    .option(
      '--validation-users <n>',
      'users sampled for each validation check during a fit (early stopping)',
      positiveInteger,
      2000,
    )
    .option(
      '--positives <set>',
      'engaged (click, closeup, save) | all (every action but impressions)',
      parsePositives,
      'engaged',
    )
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--quiet', 'no progress on stderr')
    .action(async (options) => {
      const model = options.model as TunableModel;
      const protocol = options.protocol as TuneProtocol;
      const grid = readGrid(options.grid, model);
      const progress = new Progress(!options.quiet);
      const dataset = await loadWithProgress(progress, options.data, options.format);
      const split = buildSplit(dataset, {
        protocol: protocol === 'item2item' ? 'sasrec' : protocol,
        positives: options.positives,
      });
      const metric: string = options.metric ?? defaultMetric(protocol);
      let task: ProgressTask | undefined;
      const result = await tune(split, {
        model,
        grid,
        protocol,
        metric,
        seed: options.seed,
        validationUsers: options.validationUsers,
        onProgress: (event) => {
          const label = `${event.index + 1}/${event.total} ${JSON.stringify(event.options)}`;
          if (event.phase === 'fit') {
            task ??= progress.task(label);
            task.update(event.done ?? 0, event.of, event.note);
          } else if (event.phase === 'validate') {
            task?.finish();
            task = progress.task(`${label} validate`);
          } else {
            task?.finish();
            task = undefined;
            if (!options.quiet && event.row) {
              const value = event.row.validation[metric];
              process.stderr.write(`${label}: ${value?.toFixed(4)} (${event.row.seconds} s)\n`);
            }
          }
        },
      });
      if (options.json) {
        // dataName, positives and validationUsers let `edgerec eval --tuned` refuse a result tuned on other
        // data and repeat the winner's fit exactly (same early-stopping scorer).
        printJson({
          data: options.data,
          dataName: dataset.name,
          positives: options.positives,
          validationUsers: options.validationUsers,
          ...result,
        });
        return;
      }
      const keys = Object.keys(grid);
      const shown = [
        result.metric,
        ...['HR@10', 'NDCG@10', 'Recall@10', 'MRR'].filter((m) => m !== result.metric),
      ];
      const metrics = shown.filter((m) => m in result.rows[0].validation);
      process.stdout.write(
        `${dataset.name}: ${model} on the ${protocol} validation stage, sorted by ${result.metric}, seed ${result.seed}\n\n` +
          formatTable(
            [...keys, ...metrics, 'seconds'],
            result.rows.map((row) => [
              ...keys.map((key) => formatValue(row.options[key])),
              ...metrics.map((m) => row.validation[m].toFixed(4)),
              row.seconds.toFixed(1),
            ]),
          ) +
          `\nwinner ${JSON.stringify(result.winner.options)}: ${result.metric} ${result.winner.validation[result.metric].toFixed(4)} on validation\n`,
      );
    });
}
