import type { Command } from 'commander';
import type { BundleLearning } from '../../core/bundle/index.ts';
import { buildBundle } from '../../train/bundle/build.ts';
import {
  DEFAULT_BUNDLE_MODELS,
  DEFAULT_DATA_DIR,
  DEFAULT_EDGE_EPOCHS,
  DEFAULT_GNN,
  DEFAULT_LIGHTGCN,
  DEFAULT_PINNERFORMER,
  DEFAULT_RUN_DIR,
  ensureDefaultData,
} from '../../train/bundle/default-data.ts';
import { latestVersion } from '../../train/bundle/publish.ts';
import { loadDataset } from '../../train/data/load.ts';
import { readRunManifest, trainGlobalModels } from '../../train/pipeline.ts';
import { loadWithProgress } from '../load-data.ts';
import { nonNegativeInteger, positiveInteger } from '../options.ts';
import { Progress, trainingUnit } from '../progress.ts';
import { formatTable, printJson } from '../report.ts';

export function registerBundleCommand(program: Command): void {
  program
    .command('bundle')
    .description(
      'build the edge bundle: compact encoder, teacher and student rankers, fp32/fp16/int8 variants, metrics, manifest',
    )
    .requiredOption('--out <dir>', 'bundles folder (models/): writes <dir>/<version>/ and <dir>/latest.json')
    .option(
      '--checkpoint <dir>',
      'an `edgerec train --protocol temporal` output folder; without it, trains on the embedded synthetic data first',
    )
    .option('--seed <n>', 'seed of the edge models (default: the run’s seed)', nonNegativeInteger)
    .option(
      '--time-budget <seconds>',
      'optional wall-clock cap of the global models when training them here (off by default; the report says when it cut them)',
      positiveInteger,
    )
    .option(
      '--max-epochs <n>',
      'cap on epochs of the encoder, of each ranker and of the ranker snapshot’s global models (default: 40 with early stopping; 8 on the default data)',
      positiveInteger,
    )
    .option(
      '--no-ranker-snapshot',
      'train the rankers on the served global models’ features (in-sample on their training window) instead of a snapshot trained before it',
    )
    .option(
      '--no-learning-choice',
      'skip choosing on-device learning on the validation window (the manifest gets no `learning` block; the engine keeps its built-in defaults)',
    )
    .option('--if-missing', 'do nothing when <dir>/latest.json already names a bundle')
    .option('--json', 'print one JSON object describing the bundle on stdout')
    .option('--quiet', 'no progress bars')
    .action(async (options) => {
      const started = performance.now();
      const progress = new Progress(!options.quiet);
      if (options.ifMissing) {
        const version = latestVersion(options.out);
        if (version) {
          if (options.json) printJson({ version, dir: `${options.out}/${version}`, skipped: true });
          else process.stderr.write(`edgerec: bundle ${version} is in ${options.out}; nothing to do\n`);
          return;
        }
      }
      const stages = progress.stages(trainingUnit);
      let checkpoint: string = options.checkpoint;
      if (!checkpoint) {
        const generating = progress.task('data', 'events');
        const events = await ensureDefaultData(DEFAULT_DATA_DIR, (d, t) => generating.update(d, t));
        generating.finish();
        const dataset = await loadDataset(events, 'events');
        await trainGlobalModels(
          dataset,
          events,
          DEFAULT_RUN_DIR,
          {
            protocol: 'temporal',
            positives: 'engaged',
            seed: 1,
            gnnFeatures: true,
            timeBudgetSeconds: options.timeBudget,
            gnn: DEFAULT_GNN,
            pinnerformer: DEFAULT_PINNERFORMER,
            lightgcn: DEFAULT_LIGHTGCN,
            models: DEFAULT_BUNDLE_MODELS,
          },
          ({ stage, done, total, note }) => stages.update(stage, done, total, note),
        );
        stages.finish();
        checkpoint = DEFAULT_RUN_DIR;
      }
      const run = readRunManifest(checkpoint);
      const dataset = await loadWithProgress(progress, run.data, run.dataFormat as never);
      const report = await buildBundle({
        checkpointDir: checkpoint,
        outDir: options.out,
        dataset,
        // The snapshot trains as many epochs as the served run did (or --max-epochs), never by the clock.
        snapshot: options.rankerSnapshot
          ? {
              gnn: {
                ...(checkpoint === DEFAULT_RUN_DIR ? DEFAULT_GNN : {}),
                ...(options.maxEpochs ? { epochs: options.maxEpochs } : {}),
              },
              ...(options.maxEpochs ? { pinnerformer: { maxEpochs: options.maxEpochs } } : {}),
            }
          : false,
        edge: {
          ...(options.seed !== undefined ? { seed: options.seed } : {}),
          ...(options.checkpoint ? {} : DEFAULT_EDGE_EPOCHS),
          ...(options.maxEpochs
            ? {
                encoder: { maxEpochs: options.maxEpochs },
                teacher: { maxEpochs: options.maxEpochs },
                student: { maxEpochs: options.maxEpochs },
              }
            : {}),
        },
        ...(options.learningChoice ? {} : { learningChoice: false as const }),
        onProgress: ({ stage, done, total, note }) => stages.update(stage, done, total, note),
      });
      stages.finish();
      const seconds = Math.round((performance.now() - started) / 100) / 10;
      if (options.json) {
        printJson({
          version: report.version,
          dir: report.dir,
          seconds,
          variants: report.variants,
          training: report.training,
        });
        return;
      }
      const rows = report.variants.map((v) => [
        v.kind,
        v.role,
        v.form ? `${v.dtype}-${v.form}` : v.dtype,
        String(v.bytes),
        Object.entries(v.metrics)
          .map(([k, x]) => `${k} ${x.toFixed(4)}`)
          .join('  '),
      ]);
      process.stdout.write(
        formatTable(['kind', 'role', 'dtype', 'bytes', 'metrics (test window)'], rows) +
          learningLine(report.training.learning) +
          `wrote ${report.dir} (version ${report.version}) in ${seconds} s\n`,
      );
    });
}

/** The build's learning choice in one line (empty without one). */
function learningLine(learning: unknown): string {
  const choice = learning as BundleLearning | undefined;
  if (!choice) return '';
  const rows = choice.grid.map((r) => `${r.name} ${r.metrics[choice.metric]?.toFixed(4)}`).join(', ');
  return `on-device learning: "${choice.chosen}" chosen on validation by ${choice.metric} (${rows}; ${choice.users} users, ${choice.requests} requests)\n`;
}
