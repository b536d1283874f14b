import { type Command, InvalidArgumentError } from 'commander';
import { InputError } from '../../core/errors.ts';
import {
  DEFAULT_PINNERFORMER_OPTIONS,
  type PinnerFormerOptions,
  TRAINING_OBJECTIVES,
} from '../../train/pinnerformer/index.ts';
import {
  DEFAULT_TRAIN_MODELS,
  TRAIN_MODELS,
  type TrainModel,
  trainGlobalModels,
} from '../../train/pipeline.ts';
import { RETRIEVAL_MODELS } from '../../train/space/index.ts';
import type { OptionSpec } from '../../train/tune/grid.ts';
import { PINNERFORMER_OPTION_SPECS, pinnerFormerOptionsProblem } from '../../train/tune/models.ts';
import { loadWithProgress } from '../load-data.ts';
import {
  nonNegativeInteger,
  nonNegativeNumber,
  oneOf,
  parseFormat,
  parsePositives,
  parseProtocol,
  positiveInteger,
} from '../options.ts';
import { Progress, trainingUnit } from '../progress.ts';
import { printJson } from '../report.ts';

/** The PinnerFormer options given on the command line (the rest keep their defaults). */
function pinnerformerOptions(options: Record<string, unknown>): Partial<PinnerFormerOptions> {
  const given: Partial<PinnerFormerOptions> = {};
  if (options.maxEpochs !== undefined) given.maxEpochs = options.maxEpochs as number;
  if (options.objective !== undefined)
    given.objective = options.objective as PinnerFormerOptions['objective'];
  if (options.horizonDays !== undefined) given.horizonDays = options.horizonDays as number;
  if (options.horizonActions !== undefined) given.horizonActions = options.horizonActions as number;
  if (options.relativePositions !== undefined) given.relativePositions = options.relativePositions as boolean;
  if (options.randomNegatives !== undefined) given.randomNegatives = options.randomNegatives as number;
  if (options.logqWeight !== undefined) given.logQWeight = options.logqWeight as number;
  const extra = (options.pinnerformer ?? {}) as Partial<PinnerFormerOptions>;
  const twice = Object.keys(extra).filter((key) => key in given);
  if (twice.length > 0)
    throw new InputError(
      `--pinnerformer ${twice[0]}=… repeats an option its own flag already sets; give it one way`,
    );
  const merged = { ...given, ...extra };
  const problem = pinnerFormerOptionsProblem(merged);
  if (problem) throw new InputError(`--pinnerformer: ${problem}`);
  return merged;
}

/**
 * `--pinnerformer KEY=VALUE`, repeatable: any PinnerFormer option by its name in PinnerFormerOptions,
 * checked as `tune --grid` checks it. VALUE is a number, true, false or a word.
 */
function collectPinnerFormerOption(
  text: string,
  previous: Record<string, unknown> = {},
): Record<string, unknown> {
  const match = /^(\w+)=(.+)$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError('takes KEY=VALUE, e.g. dim=128');
  const [, key, raw] = match;
  const spec = (PINNERFORMER_OPTION_SPECS as Record<string, OptionSpec>)[key];
  if (!spec)
    throw new InvalidArgumentError(
      `${key} is not a PinnerFormer option (one of: ${Object.keys(PINNERFORMER_OPTION_SPECS).join(', ')})`,
    );
  if (key in previous) throw new InvalidArgumentError(`${key} is given twice`);
  const value =
    raw === 'true'
      ? true
      : raw === 'false'
        ? false
        : raw.trim() !== '' && Number.isFinite(Number(raw))
          ? Number(raw)
          : raw;
  const problem = spec.check(value);
  if (problem) throw new InvalidArgumentError(`${key} ${problem}, got ${raw}`);
  return { ...previous, [key]: value };
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'train the global models (PinSage-style GNN, LightGCN, PinnerFormer) on the training split of a protocol, then choose the retrieval space on validation',
    )
    .requiredOption('--data <path>', 'file or folder to read')
    .requiredOption('--format <format>', 'movielens | sequences | lightgcn | ncf | events', parseFormat)
    .requiredOption('--out <dir>', 'output folder (rerun the same command to resume)')
    .option(
      '--protocol <protocol>',
      'sasrec | full | temporal: the split to train on',
      parseProtocol,
      'sasrec',
    )
    .option('--positives <set>', 'engaged | all', parsePositives, 'engaged')
    .option('--seed <n>', 'seed of every random choice', nonNegativeInteger, 1)
    .option(
      '--pinnerformer <key=value>',
      'any other PinnerFormer option by name (repeatable), e.g. dim=128 or plateauDecay=0.5; docs/training.md lists them',
      collectPinnerFormerOption,
    )
    .option(
      '--time-budget <seconds>',
      'optional wall-clock cap of the whole run (off by default; a cut run is no longer reproducible, and run.json says so)',
      positiveInteger,
    )
    .option(
      '--max-epochs <n>',
      'cap on epochs of each model (GNN, LightGCN and PinnerFormer)',
      positiveInteger,
    )
    .option(
      '--objective <name>',
      `PinnerFormer's training objective: ${TRAINING_OBJECTIVES.join(' | ')}`,
      oneOf(TRAINING_OBJECTIVES, 'objective'),
    )
    .option('--horizon-days <n>', 'all-action objectives: the future horizon in days', positiveInteger)
    .option(
      '--horizon-actions <n>',
      'all-action objectives on data without timestamps: the horizon as a count of following actions',
      positiveInteger,
    )
    .option(
      '--random-negatives <n>',
      `PinnerFormer's uniform random negatives per batch, beside the batch's own targets (default ${DEFAULT_PINNERFORMER_OPTIONS.randomNegatives})`,
      positiveInteger,
    )
    .option(
      '--logq-weight <w>',
      `PinnerFormer: the weight of the sampled softmax's logQ correction: 0 none (popular items keep the boost in-batch negatives give them), 1 the unbiased correction, above 1 more (default ${DEFAULT_PINNERFORMER_OPTIONS.logQWeight})`,
      nonNegativeNumber,
    )
    .option(
      '--refit',
      "after validation has chosen PinnerFormer's, LightGCN's and the GNN's epochs, train each again on training + validation events for as many and publish those (PinnerFormer's refit reads the refit GNN; not for bundles: they validate on those events)",
    )
    .option('--no-gnn-features', 'do not feed GNN item embeddings to PinnerFormer')
    .option(
      '--no-relative-positions',
      "PinnerFormer without its learned attention bias per query–key distance (positions from the window's start only)",
    )
    .option(
      '--models <list>',
      `comma-separated subset of ${TRAIN_MODELS.join(',')} (gnn brings the PinSage graph)`,
      parseModels,
      [...DEFAULT_TRAIN_MODELS],
    )
    .option(
      '--retrieval <model>',
      `the bundle's retrieval space: auto (the validation winner) | ${RETRIEVAL_MODELS.join(' | ')}`,
      oneOf(['auto', ...RETRIEVAL_MODELS], 'retrieval'),
      'auto',
    )
    .option(
      '--serial',
      "train LightGCN (and with --refit the GNN's refit) on the main thread, not on a second thread beside the GNN and PinnerFormer (same tables, slower)",
    )
    .option('--json', 'print one JSON object (run.json) on stdout')
    .option('--quiet', 'no progress bars')
    .action(async (options) => {
      const started = performance.now();
      // Before the data loads: a bad combination of options is refused at once.
      const pinnerformer = pinnerformerOptions(options);
      const progress = new Progress(!options.quiet);
      const dataset = await loadWithProgress(progress, options.data, options.format);
      const stages = progress.stages(trainingUnit);
      const manifest = await trainGlobalModels(
        dataset,
        options.data,
        options.out,
        {
          protocol: options.protocol,
          positives: options.positives,
          seed: options.seed,
          gnnFeatures: options.gnnFeatures,
          timeBudgetSeconds: options.timeBudget,
          gnn: options.maxEpochs ? { epochs: options.maxEpochs } : undefined,
          pinnerformer,
          lightgcn: options.maxEpochs ? { maxEpochs: options.maxEpochs } : undefined,
          models: options.models,
          retrieval: options.retrieval,
          serial: options.serial === true,
          refit: options.refit === true,
        },
        ({ stage, done, total, note }) => stages.update(stage, done, total, note),
      );
      stages.finish();
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      if (options.json) {
        printJson({ ...manifest, out: options.out, seconds });
        return;
      }
      const lines = Object.entries(manifest.stages).map(
        ([stage, record]) =>
          `  ${stage.padEnd(13)} ${record.seconds.toFixed(1).padStart(7)} s${record.bestEpoch !== undefined ? `, best epoch ${record.bestEpoch + 1}` : ''}${record.refit ? `; refit on training + validation, ${record.refit.epochs} epochs, ${record.refit.seconds.toFixed(1)} s` : ''}`,
      );
      const choice = manifest.retrieval;
      if (choice)
        lines.push(
          `  retrieval space: ${choice.model} (${choice.chosenBy}; validation ${choice.metric} ${Object.entries(
            choice.validation,
          )
            .map(
              ([m, v]) => `${m} ${v}${m === 'blend' && choice.blend ? ` at w ${choice.blend.weight}` : ''}`,
            )
            .join(', ')})`,
        );
      process.stdout.write(
        `trained ${dataset.name} (${manifest.numUsers} users, ${manifest.numItems} items) under the ${manifest.protocol} protocol, seed ${manifest.seed}\n` +
          `${lines.join('\n')}\nwrote ${options.out}/ in ${seconds} s (this run)\n`,
      );
    });
}

function parseModels(value: string): TrainModel[] {
  const models = value.split(',').map((m) => m.trim());
  const unknown = models.filter((m) => !(TRAIN_MODELS as readonly string[]).includes(m));
  if (unknown.length > 0 || models.length === 0)
    throw new InvalidArgumentError(
      `--models takes a comma-separated subset of ${TRAIN_MODELS.join(',')}, got ${value}`,
    );
  return [...new Set(models)] as TrainModel[];
}
