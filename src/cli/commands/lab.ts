import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import {
  ITEM_DTYPES,
  type ItemDtype,
  MODEL_DTYPES,
  MODEL_ROLES,
  type ModelDtype,
} from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';
import {
  describeRetrievalSpace,
  formatMetric,
  formatMs,
  LAB_INDEX_FILE,
  LAB_SPLITS,
  type LabRankerFile,
  type LabSplit,
  labCsv,
  metricColumns,
  parseLabIndex,
} from '../../core/lab/index.ts';
import { DEFAULT_RUN_DIR } from '../../train/bundle/default-data.ts';
import { buildEvalPack, DEFAULT_MAX_EXAMPLES, DEFAULT_MAX_USERS } from '../../train/lab/pack.ts';
import { runLabNode } from '../../train/lab/run.ts';
import { resolveBundleDir } from '../../train/lab/source.ts';
import { nonNegativeInteger, oneOf, positiveInteger } from '../options.ts';
import { Progress } from '../progress.ts';
import { formatTable, printJson } from '../report.ts';

function listOf<T extends string>(allowed: readonly T[], what: string, allowNone = false) {
  return (value: string): T[] => {
    const parts = value
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    if (allowNone && parts.length === 1 && parts[0] === 'none') return [];
    for (const p of parts)
      if (!allowed.includes(p as T))
        throw new InvalidArgumentError(`${what} must be among ${allowed.join(', ')}`);
    if (parts.length === 0) throw new InvalidArgumentError(`give at least one ${what}`);
    return [...new Set(parts)] as T[];
  };
}

/**
 * `--ranker-file` paths → labelled graphs: each labelled by its file name, or by the path as given when
 * two share a name (`a/r.onnx`, `b/r.onnx`).
 */
function readRankerFiles(paths: string[]): LabRankerFile[] {
  const names = paths.map((p) => basename(p));
  return paths.map((path, i) => {
    if (!existsSync(path) || !statSync(path).isFile()) throw new InputError(`${path}: no such file`);
    const buffer = readFileSync(path);
    return {
      name: names.indexOf(names[i]) === names.lastIndexOf(names[i]) ? names[i] : path,
      bytes: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength),
    };
  });
}

/** Splits whose pack exists for the folder's bundle. */
function existingPacks(models: string): Set<LabSplit> {
  try {
    const dir = resolveBundleDir(models);
    const file = join(dir, LAB_INDEX_FILE);
    if (!existsSync(file)) return new Set();
    const index = parseLabIndex(readFileSync(file, 'utf8'));
    const version = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).version;
    if (index.bundle !== version) return new Set();
    return new Set(
      (Object.keys(index.packs) as LabSplit[]).filter((s) =>
        existsSync(join(dir, 'lab', index.packs[s]!.file)),
      ),
    );
  } catch {
    return new Set();
  }
}

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description('the quantization lab: evaluation packs for the browser, and the same evaluation in Node');
  lab
    .command('pack')
    .description(
      'write <models>/<version>/lab/<split>.bin (+ lab/index.json): held-out users and ranker examples',
    )
    .option('--models <dir>', 'bundles folder (latest bundle) or one bundle folder', 'models')
    .option('--split <splits>', 'valid, test, or both', listOf(LAB_SPLITS, 'split'), [...LAB_SPLITS])
    .option('--checkpoint <dir>', 'the `edgerec train` run the bundle was built from', DEFAULT_RUN_DIR)
    .option(
      '--max-users <n>',
      'users with ground truth kept (seeded sample)',
      positiveInteger,
      DEFAULT_MAX_USERS,
    )
    .option(
      '--max-examples <n>',
      'ranker examples kept (whole sessions, seeded)',
      positiveInteger,
      DEFAULT_MAX_EXAMPLES,
    )
    .option('--seed <n>', 'seed of the samples', nonNegativeInteger, 0)
    .option('--if-missing', 'only the splits whose pack is not there yet')
    .option('--json', 'print one JSON object on stdout')
    .option('--quiet', 'no progress on stderr')
    .action(async (options) => {
      let splits: LabSplit[] = options.split;
      if (options.ifMissing) {
        const have = existingPacks(options.models);
        splits = splits.filter((s) => !have.has(s));
        if (splits.length === 0) {
          if (options.json) printJson({ skipped: true });
          else if (!options.quiet) process.stderr.write('edgerec: the eval packs are there; nothing to do\n');
          return;
        }
      }
      const report = await buildEvalPack({
        checkpointDir: options.checkpoint,
        bundleDir: options.models,
        split: splits,
        maxUsers: options.maxUsers,
        maxExamples: options.maxExamples,
        seed: options.seed,
        onProgress: (stage) => {
          if (!options.quiet && !options.json) process.stderr.write(`edgerec lab pack: ${stage}\n`);
        },
      });
      if (options.json) {
        printJson(report);
        return;
      }
      const table = formatTable(
        ['split', 'users', 'examples', 'bytes', 'file'],
        report.packs.map((p) => [p.split, String(p.users), String(p.examples), String(p.bytes), p.path]),
      );
      process.stdout.write(`${table}bundle ${report.bundle}, ${report.seconds.toFixed(1)} s\n`);
    });
  lab
    .command('run')
    .description('score item tables and rankers on an eval pack in Node (what the browser lab computes)')
    .option('--models <dir>', 'bundles folder (latest bundle) or one bundle folder', 'models')
    .option('--split <split>', 'valid or test', oneOf(LAB_SPLITS, 'split'), 'valid')
    .option('--items <dtypes>', 'item tables, or none', listOf<ItemDtype>(ITEM_DTYPES, 'item dtype', true), [
      ...ITEM_DTYPES,
    ])
    .option(
      '--rankers <dtypes>',
      "the bundle's rankers (int8: every form), or none",
      listOf<ModelDtype>(MODEL_DTYPES, 'ranker dtype', true),
      [...MODEL_DTYPES],
    )
    .option(
      '--ranker-file <files...>',
      "your own ranker .onnx graphs (the bundle's ranker inputs/outputs), e.g. edgerec quantize's variants; repeatable",
    )
    .option(
      '--role <role>',
      'ranker role (and the contract ranker files must follow)',
      oneOf(MODEL_ROLES, 'role'),
      'student',
    )
    .option('--runs <n>', 'timing passes over the pack', positiveInteger, 1)
    .option('--json', 'print the result as one JSON object on stdout')
    .option('--csv', 'print the result as CSV on stdout')
    .option('--quiet', 'no progress bar')
    .action(async (options) => {
      const rankerFiles = readRankerFiles(options.rankerFile ?? []);
      if (options.items.length + options.rankers.length + rankerFiles.length === 0)
        throw new InputError('nothing to run: --items none and --rankers none without --ranker-file');
      const progress = new Progress(!options.quiet);
      const task = progress.task('lab', 'steps');
      const result = await runLabNode(
        options.models,
        options.split,
        {
          items: options.items,
          rankers: options.rankers,
          role: options.role,
          runs: options.runs,
          rankerFiles,
        },
        (p) => task.update(p.done, p.total, p.label),
      );
      task.finish();
      if (options.json) {
        printJson(result);
        return;
      }
      if (options.csv) {
        process.stdout.write(labCsv(result));
        return;
      }
      const metrics = metricColumns(result.rows);
      process.stdout.write(
        formatTable(
          ['kind', 'variant', 'bytes', ...metrics, 'p50 ms', 'p99 ms', 'speed-up'],
          result.rows.map((r) => [
            r.source === 'file' ? `file (${r.form ? `${r.dtype}-${r.form}` : r.dtype})` : r.kind,
            r.variant,
            String(r.bytes),
            ...metrics.map((m) => formatMetric(r.metrics[m])),
            formatMs(r.latency.p50),
            formatMs(r.latency.p99),
            r.speedup === null ? '' : `${r.speedup.toFixed(2)}x`,
          ]),
        ) +
          `bundle ${result.bundle}, ${result.split} split: ${result.users} users, ${result.examples} examples; ` +
          `item tables: ${describeRetrievalSpace(result.retrieval)}; ` +
          'latency is Node (onnxruntime-node CPU, reference scan), not a browser\n' +
          result.failures.map((f) => `not run: ${f}\n`).join(''),
      );
    });
}
