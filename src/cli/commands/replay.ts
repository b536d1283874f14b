import { type Command, InvalidArgumentError } from 'commander';
import { bundleLearningChoice } from '../../core/learning/index.ts';
import { REPLAY_METRICS } from '../../core/replay/index.ts';
import { DEFAULT_RUN_DIR } from '../../train/bundle/default-data.ts';
import { writeReplayPack } from '../../train/replay/pack.ts';
import {
  type PreparedReplay,
  prepareReplayNode,
  REPLAY_SPLITS,
  runReplayNode,
} from '../../train/replay/run.ts';
import { parseVariant } from '../../train/replay/variant-spec.ts';
import { nonNegativeInteger, oneOf, positiveInteger } from '../options.ts';
import { Progress } from '../progress.ts';
import { formatTable, printJson } from '../report.ts';

function variantList(value: string) {
  const specs = [
    ...new Set(
      value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (specs.length === 0) throw new InvalidArgumentError('give at least one variant');
  try {
    // Checked now; built once the bundle's learning choice is known.
    for (const spec of specs) parseVariant(spec);
    return specs;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      "replay held-out users' events through the feed pipeline and score every feed request against what they did next",
    )
    .option('--models <dir>', 'bundles folder (latest bundle) or one bundle folder', 'models')
    .option('--checkpoint <dir>', 'the `edgerec train` run the bundle was built from', DEFAULT_RUN_DIR)
    .option(
      '--split <split>',
      'valid (to choose settings) or test (to report)',
      oneOf(REPLAY_SPLITS, 'split'),
      'valid',
    )
    .option(
      '--variant <list>',
      'comma-separated: server, blend, multi, multi:threshold=X:share=X:interests=N:halflife=DAYS:clusters=N:pins=N, ' +
        'learned, learned+multi, learned:lr=X:steps=N:l2=X:scale=X:halflife=DAYS:hide=X:implicit=X:sampled=N:events=N:weight=X, ' +
        "second, second:rule=server|device|newest|W (a second device starting from the server's combined embedding)",
      variantList,
      variantList('server,blend,multi'),
    )
    .option('--seed <n>', 'seed of the user sample and the stand-in impressions', nonNegativeInteger, 0)
    .option('--max-users <n>', 'replay a seeded sample of this many users (default all)', positiveInteger)
    .option(
      '--write-pack',
      "also write the replayed users' pack for the lab's replay tab: <bundle>/lab/replay-<split>.json (needs --max-users)",
    )
    .option('--json', 'print one JSON object on stdout')
    .option('--quiet', 'no progress on stderr')
    .action(async (options) => {
      const progress = new Progress(!options.quiet);
      let task: ReturnType<Progress['task']> | undefined;
      let current = '';
      if (options.writePack && options.maxUsers === undefined)
        throw new InvalidArgumentError('--write-pack needs --max-users (the browser replays a sample)');
      const prepared: PreparedReplay = await prepareReplayNode({
        models: options.models,
        checkpoint: options.checkpoint,
        split: options.split,
        onStage: (stage) => {
          if (!options.quiet) process.stderr.write(`edgerec replay: ${stage}\n`);
        },
      });
      // `learned` and `learned+multi` learn as the bundle chose on its validation window (manifest.learning).
      const choice = bundleLearningChoice(prepared.bundle.manifest.learning);
      const variants = (options.variant as string[]).map((spec) => parseVariant(spec, choice));
      if (options.writePack) {
        const { path, pack } = writeReplayPack(options.models, prepared, {
          split: options.split,
          seed: options.seed,
          maxUsers: options.maxUsers,
        });
        if (!options.quiet)
          process.stderr.write(
            `edgerec replay: wrote ${path} (${pack.users.length} users, ${pack.log.user.length} events)\n`,
          );
      }
      const report = await runReplayNode({
        prepared,
        models: options.models,
        checkpoint: options.checkpoint,
        split: options.split,
        variants,
        seed: options.seed,
        maxUsers: options.maxUsers,
        onStage: (stage) => {
          if (!options.quiet) process.stderr.write(`edgerec replay: ${stage}\n`);
        },
        onProgress: (variant, done, total) => {
          if (variant !== current) {
            task?.finish();
            task = progress.task(variant, 'requests');
            current = variant;
          }
          task?.update(done, total);
        },
      });
      task?.finish();
      const rows = report.rows.map((r) => ({ variant: r.variant, ...r.metrics }));
      if (options.json) {
        printJson({
          split: report.split,
          users: report.users,
          rows,
          requests: report.requests,
          seed: report.seed,
          bundle: report.bundle,
        });
        return;
      }
      process.stdout.write(
        formatTable(
          ['variant', ...REPLAY_METRICS],
          rows.map((r) => [r.variant, ...REPLAY_METRICS.map((m) => r[m].toFixed(4))]),
        ),
      );
      process.stdout.write(
        `${report.split} window, ${report.users} users, ${report.requests} feed requests, seed ${report.seed}, bundle ${report.bundle}` +
          `${report.standIns ? ' (sampled stand-in impressions)' : ''}\n`,
      );
    });
}
