import type { Command } from 'commander';
import type { Dataset } from '../../core/dataset.ts';
import { InputError } from '../../core/errors.ts';
import { type EvalResult, evaluate, fitOnSplit, type Stage, trainingData } from '../../core/eval/harness.ts';
import { evaluateItemToItem, isItemSimilarity } from '../../core/eval/item-to-item.ts';
import type { Recommender } from '../../core/eval/model.ts';
import { buildSplit, type EvalSplit, type PositiveSet, PROTOCOLS } from '../../core/eval/split.ts';
import { BASELINES, type BaselineName, createBaseline } from '../../train/baselines/index.ts';
import { GnnRecommender } from '../../train/gnn/index.ts';
import { loadPinnerFormer, PinnerFormerRecommender } from '../../train/pinnerformer/index.ts';
import { readRunManifest, readTable } from '../../train/pipeline.ts';
import { loadRunBlend } from '../../train/space/index.ts';
import { TUNABLE } from '../../train/tune/index.ts';
import { loadWithProgress } from '../load-data.ts';
import {
  integerList,
  nonNegativeInteger,
  oneOf,
  parseFormat,
  parsePositives,
  positiveInteger,
} from '../options.ts';
import type { ProgressTask } from '../progress.ts';
import { Progress } from '../progress.ts';
import { formatTable, printJson } from '../report.ts';
import { readTuned, type TunedSettings } from '../tuned.ts';

const TRAINED = ['gnn', 'pinnerformer', 'blend'] as const;
const MODELS = [...BASELINES, ...TRAINED] as const;
type ModelName = (typeof MODELS)[number];
const EVAL_PROTOCOLS = [...PROTOCOLS, 'item2item'] as const;
const STAGES: readonly Stage[] = ['test', 'valid'];
/** Models that stop early / pick α on validation Recall@20, the LightGCN protocol's metric, under full ranking. */
const RECALL_VALIDATED: readonly string[] = ['lightgcn', 'gfcf'];

/** Fits a model on the training split, validating on Recall@20 where the model and protocol call for it. */
async function fitModel(
  model: Recommender,
  split: EvalSplit,
  seed: number,
  onProgress: (done: number, total: number) => void,
  tuned?: TunedSettings,
): Promise<void> {
  if (tuned) {
    // Early stopping on the metric and user sample tune used, so the fit is the winner's fit of the grid.
    const validate = () =>
      evaluate(model, split, 'valid', { seed, sampleUsers: tuned.validationUsers }).metrics[tuned.metric];
    await model.fit(trainingData(split), { onProgress, validate });
    return;
  }
  if (!RECALL_VALIDATED.includes(model.name) || split.protocol === 'sasrec') {
    await fitOnSplit(model, split, { seed, onProgress });
    return;
  }
  const validate = () =>
    evaluate(model, split, 'valid', { seed, sampleUsers: 2000, ks: [20] }).metrics['Recall@20'];
  await model.fit(trainingData(split), { onProgress, validate });
}

/** CPU seconds (user + system) of this process so far: what a loaded machine's wall time hides. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1e4) / 100;
}

/** Refuses a tune result made for another model, protocol, data set or positive set. */
function checkTuned(
  tuned: TunedSettings,
  name: string,
  protocol: string,
  dataName: string,
  positives: PositiveSet,
): void {
  const where = `--tuned ${tuned.path}`;
  if (tuned.model !== name) throw new InputError(`${where} holds ${tuned.model} settings, not ${name}'s`);
  if (tuned.protocol !== protocol)
    throw new InputError(`${where} was tuned on the ${tuned.protocol} protocol, not ${protocol}`);
  if (tuned.dataName !== undefined && tuned.dataName !== dataName)
    throw new InputError(`${where} was tuned on ${tuned.dataName}, not on ${dataName}`);
  if (tuned.positives !== undefined && tuned.positives !== positives)
    throw new InputError(`${where} was tuned with --positives ${tuned.positives}, not ${positives}`);
}

/** A model trained by `edgerec train`, checked against the data and split it is evaluated on. */
async function loadTrained(
  name: (typeof TRAINED)[number],
  dir: string | undefined,
  dataset: Dataset,
  split: EvalSplit,
  positives: PositiveSet,
  stage: Stage,
): Promise<Recommender> {
  if (!dir) throw new InputError(`--model ${name} needs --checkpoint DIR, a folder written by edgerec train`);
  const run = readRunManifest(dir);
  if (run.dataName !== dataset.name || run.numItems !== split.numItems || run.numUsers !== split.numUsers) {
    throw new InputError(`${dir} was trained on ${run.dataName}, not on ${dataset.name}`);
  }
  if (run.protocol !== split.protocol) {
    throw new InputError(
      `${dir} was trained on the ${run.protocol} split; evaluating it on ${split.protocol} would leak`,
    );
  }
  // Another positive set moves the split's cut points, so test items could sit in the training log.
  if (run.positives !== positives) {
    throw new InputError(
      `${dir} was trained with --positives ${run.positives}; evaluating it with --positives ${positives} would leak`,
    );
  }
  // A refit PinnerFormer or LightGCN has trained on the validation events: its validation score would be in-sample.
  if (stage === 'valid' && run.refit && name !== 'gnn') {
    throw new InputError(
      `${dir} holds models refit on the validation events (edgerec train --refit), so its validation stage would be in-sample; score a run trained without --refit`,
    );
  }
  if (name === 'gnn') {
    const [, dim] = run.tables['gnn/items.f32'] ?? [];
    if (!dim) throw new InputError(`${dir} holds no GNN table (training did not finish that stage)`);
    return GnnRecommender.fromTable(readTable(`${dir}/gnn/items.f32`), dim);
  }
  if (name === 'blend') return loadRunBlend(dir);
  const { model, hasTimestamps } = await loadPinnerFormer(`${dir}/pinnerformer/model`);
  return PinnerFormerRecommender.fromModel(model, hasTimestamps);
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      'fit a model on the training split of a protocol and score it on the test split (or, with --stage valid, on every validation user)',
    )
    .requiredOption('--data <path>', 'file or folder to read')
    .requiredOption('--format <format>', 'movielens | sequences | lightgcn | ncf | events', parseFormat)
    .option('--protocol <protocol>', EVAL_PROTOCOLS.join(' | '), oneOf(EVAL_PROTOCOLS, 'protocol'), 'sasrec')
    .requiredOption('--model <model>', MODELS.join(' | '), oneOf(MODELS, 'model'))
    .option(
      '--checkpoint <dir>',
      'gnn | pinnerformer | blend (its weight as chosen on validation): the folder edgerec train wrote',
    )
    .option(
      '--tuned <file>',
      'pop | itemknn | bpr: an edgerec tune --json result; fit with its winner (chosen on validation)',
    )
    .option(
      '--seed <n>',
      'seed for negative sampling, user sampling and model initialisation',
      nonNegativeInteger,
      0,
    )
    .option('--negatives <n>', 'sasrec: negatives sampled per user', positiveInteger, 100)
    .option(
      '--stage <stage>',
      'test | valid: the stage to score (valid compares settings without touching test)',
      oneOf(STAGES, 'stage'),
      'test',
    )
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
      const dataset = await loadWithProgress(progress, options.data, options.format);
      const itemToItem = options.protocol === 'item2item';
      // Item-to-item queries come from the leave-last-out split: last history item → held-out item.
      const split = buildSplit(dataset, {
        protocol: itemToItem ? 'sasrec' : options.protocol,
        positives: options.positives,
      });
      const name = options.model as ModelName;
      if (options.tuned && (TRAINED as readonly string[]).includes(name))
        throw new InputError(`--tuned applies to fitted baselines; ${name} is read from --checkpoint`);
      let model: Recommender;
      let fitSeconds: number | undefined;
      if ((TRAINED as readonly string[]).includes(name)) {
        model = await loadTrained(
          name as (typeof TRAINED)[number],
          options.checkpoint,
          dataset,
          split,
          options.positives,
          options.stage,
        );
      } else {
        const tuned = options.tuned ? readTuned(options.tuned) : undefined;
        if (tuned) checkTuned(tuned, name, options.protocol, dataset.name, options.positives);
        model = tuned
          ? TUNABLE[tuned.model].create(tuned.options, options.seed + 1)
          : createBaseline(name as BaselineName, options.seed + 1);
        const fitting = progress.task(`fit ${model.name}`);
        const fitStarted = performance.now();
        await fitModel(model, split, options.seed, (done, total) => fitting.update(done, total), tuned);
        fitSeconds = Math.round((performance.now() - fitStarted) / 10) / 100;
        fitting.finish();
      }
      const scoring: ProgressTask = progress.task('evaluate', 'users');
      const onProgress = (done: number, total: number) => scoring.update(done, total);
      let result: EvalResult;
      if (itemToItem) {
        if (!isItemSimilarity(model))
          throw new InputError(
            `--protocol item2item needs a model with item similarities (itemknn, gnn, pinnerformer)`,
          );
        result = evaluateItemToItem(model, split, options.stage, {
          ks: options.ks,
          sampleUsers: options.sampleUsers,
          seed: options.seed,
          onProgress,
        });
      } else {
        result = evaluate(model, split, options.stage, {
          seed: options.seed,
          negatives: options.negatives,
          sampleUsers: options.sampleUsers,
          ks: options.ks,
          onProgress,
        });
      }
      scoring.finish();
      const seconds = Math.round((performance.now() - started) / 10) / 100;
      if (result.users === 0) {
        throw new InputError(
          `no user of ${dataset.name} has both history and a ${options.stage === 'valid' ? 'validation' : 'test'} target under the ${split.protocol} protocol`,
        );
      }
      const report = {
        data: options.data,
        protocol: itemToItem ? 'item2item' : split.protocol,
        stage: options.stage,
        model: model.name,
        users: result.users,
        metrics: result.metrics,
        seconds,
        seed: options.seed,
        // Wall seconds of the fit alone, and the process's peak resident memory, for bench:train.
        ...(fitSeconds !== undefined && { fitSeconds }),
        peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        cpuSeconds: cpuSeconds(),
        ...(options.tuned && { tuned: options.tuned }),
        params: model.describe?.() ?? {},
      };
      if (options.json) {
        printJson(report);
        return;
      }
      process.stdout.write(
        `${dataset.name}: ${dataset.users.size} users, ${dataset.items.size} items, ${dataset.log.length} events\n` +
          `protocol ${itemToItem ? 'item2item (queries from the sasrec split)' : `${split.protocol}: ${split.description}`}\n` +
          `model ${model.name} ${JSON.stringify(report.params)}\n\n` +
          formatTable(
            ['metric', 'value'],
            Object.entries(result.metrics).map(([name, value]) => [name, value.toFixed(4)]),
          ) +
          `\n${result.users} users scored on the ${options.stage === 'valid' ? 'validation' : 'test'} stage, seed ${options.seed}, ${seconds} s\n`,
      );
    });
}
