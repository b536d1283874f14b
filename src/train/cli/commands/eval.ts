import type { Command } from 'commander';
import { InputError } from '../../../core/errors.ts';
import { evaluate, fitOnSplit } from '../../../core/eval/harness.ts';
import { buildSplit } from '../../../core/eval/split.ts';
import { BASELINES, type BaselineName, createBaseline } from '../../baselines/index.ts';
import { loadDataset } from '../../data/load.ts';
import {
  integerList,
  nonNegativeInteger,
  oneOf,
  parseFormat,
  parsePositives,
  parseProtocol,
  positiveInteger,
} from '../options.ts';
import { Progress } from '../progress.ts';
import { formatTable, printJson } from '../report.ts';

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('fit a model on the training split of a protocol and score it on the test split')
    .requiredOption('--data <path>', 'file or folder to read')
    .requiredOption('--format <format>', 'movielens | sequences | lightgcn | ncf | events', parseFormat)
    .option('--protocol <protocol>', 'sasrec | full | temporal', parseProtocol, 'sasrec')
    .requiredOption('--model <model>', BASELINES.join(' | '), oneOf(BASELINES, 'model'))
    .option(
      '--seed <n>',
      'seed for negative sampling, user sampling and model initialisation',
      nonNegativeInteger,
      0,
    )
    .option('--negatives <n>', 'sasrec: negatives sampled per user', positiveInteger, 100)
    .option(
      '--sample-users <n>',
      'score a seeded sample of users (the SASRec code uses 10000)',
      positiveInteger,
    )
    .option(
      '--positives <set>',
      'engaged (click, closeup, save) | all (every action but impressions)',
      parsePositives,
      'engaged',
    )
    .option('--ks <list>', 'cut-offs for @K metrics, comma-separated', integerList)
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--quiet', 'no progress bars')
    .action(async (options) => {
      const started = performance.now();
      const progress = new Progress(!options.quiet);
      const loading = progress.task('load', 'bytes');
      const dataset = await loadDataset(options.data, options.format, (done, total) =>
        loading.update(done, total),
      );
      loading.finish();
      const split = buildSplit(dataset, { protocol: options.protocol, positives: options.positives });
      const model = createBaseline(options.model as BaselineName, options.seed + 1);
      const fitting = progress.task(`fit ${model.name}`);
      await fitOnSplit(model, split, {
        seed: options.seed,
        onProgress: (done, total) => fitting.update(done, total),
      });
      fitting.finish();
      const scoring = progress.task('evaluate', 'users');
      const result = evaluate(model, split, 'test', {
        seed: options.seed,
        negatives: options.negatives,
        sampleUsers: options.sampleUsers,
        ks: options.ks,
        onProgress: (done, total) => scoring.update(done, total),
      });
      scoring.finish();
      const seconds = Math.round((performance.now() - started) / 10) / 100;
      if (result.users === 0) {
        throw new InputError(
          `no user of ${dataset.name} has both history and a test target under the ${split.protocol} protocol`,
        );
      }
      const report = {
        data: options.data,
        protocol: split.protocol,
        model: model.name,
        users: result.users,
        metrics: result.metrics,
        seconds,
        seed: options.seed,
        params: model.describe?.() ?? {},
      };
      if (options.json) {
        printJson(report);
        return;
      }
      process.stdout.write(
        `${dataset.name}: ${dataset.users.size} users, ${dataset.items.size} items, ${dataset.log.length} events\n` +
          `protocol ${split.protocol}: ${split.description}\n` +
          `model ${model.name} ${JSON.stringify(report.params)}\n\n` +
          formatTable(
            ['metric', 'value'],
            Object.entries(result.metrics).map(([name, value]) => [name, value.toFixed(4)]),
          ) +
          `\n${result.users} users scored on the test split, seed ${options.seed}, ${seconds} s\n`,
      );
    });
}
