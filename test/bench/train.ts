/**
 * `npm run bench:train [-- --json] [-- --only synthetic|amazon-games|ml-100k]` — trains the global models
 * with the CLI on each data set (fresh output folders under .cache/bench-train/), then scores every model
 * on the test split in the same run. Prints wall time, throughput and peak memory per stage, and metrics,
 * then the speed-up of each training-time scoring path against the code it replaced (`--only speed`: just that;
 * `--speed-data ml-100k`: on that data set only).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable } from '../../src/cli/report.ts';
import type { RunManifest } from '../../src/train/pipeline.ts';
import { compareScoringSpeed } from './train-speed.ts';

const json = process.argv.includes('--json');
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const root = join(import.meta.dirname, '../..');
const work = join(root, '.cache', 'bench-train');
const bin = join(root, 'bin', 'edgerec.mjs');
const log = (text: string) => {
  if (!json) process.stdout.write(text);
};
const edgerec = (args: string[], quiet = true) =>
  execFileSync(process.execPath, [bin, ...args, ...(quiet ? ['--quiet'] : [])], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    stdio: ['ignore', 'pipe', json ? 'ignore' : 'inherit'],
  });

interface Spec {
  name: string;
  path: string;
  format: string;
  /** Extra train flags: the synthetic default caps epochs (never a clock, so the tables are reproducible). */
  trainArgs?: string[];
  prepare?: () => void;
}

const synthetic = join(work, 'synthetic');
const SPECS: Spec[] = [
  {
    name: 'synthetic',
    path: join(synthetic, 'events.jsonl'),
    format: 'events',
    trainArgs: ['--max-epochs', '5'],
    prepare: () => {
      if (!existsSync(join(synthetic, 'events.jsonl'))) edgerec(['data', 'gen', '--out', synthetic]);
    },
  },
  { name: 'ml-100k', path: join(root, '../shared/datasets/ml-100k/u.data'), format: 'movielens' },
  {
    name: 'amazon-games',
    path: join(root, '../shared/datasets/amazon-games/sequences.txt'),
    format: 'sequences',
  },
];

const stageRows: string[][] = [];
const metricRows: string[][] = [];
const results: unknown[] = [];
for (const spec of SPECS) {
  if (only && spec.name !== only) continue;
  spec.prepare?.();
  if (!existsSync(spec.path)) {
    log(`(skipping ${spec.name}: ${spec.path} not found)\n`);
    continue;
  }
  const out = join(work, `run-${spec.name}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  edgerec(
    ['train', '--data', spec.path, '--format', spec.format, '--out', out, ...(spec.trainArgs ?? [])],
    false,
  );
  const wall = (performance.now() - started) / 1000;
  const manifest = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as RunManifest;
  for (const [stage, record] of Object.entries(manifest.stages)) {
    stageRows.push([
      spec.name,
      stage,
      record.seconds.toFixed(1),
      record.examplesPerSecond ? Math.round(record.examplesPerSecond).toString() : '',
      String(record.peakRssMiB),
      record.bestEpoch !== undefined ? String(record.bestEpoch + 1) : '',
    ]);
  }
  stageRows.push([spec.name, 'total (CLI wall)', wall.toFixed(1), '', '', '']);
  const scores: Record<string, Record<string, number>> = {};
  for (const model of ['pop', 'itemknn', 'bpr', 'gnn', 'pinnerformer']) {
    const args = ['eval', '--data', spec.path, '--format', spec.format, '--model', model, '--json'];
    if (model === 'gnn' || model === 'pinnerformer') args.push('--checkpoint', out);
    scores[model] = JSON.parse(edgerec(args)).metrics;
    metricRows.push([
      spec.name,
      'sasrec',
      model,
      scores[model]['HR@10'].toFixed(4),
      scores[model]['NDCG@10'].toFixed(4),
    ]);
  }
  for (const model of ['itemknn', 'gnn']) {
    const args = [
      'eval',
      '--data',
      spec.path,
      '--format',
      spec.format,
      '--protocol',
      'item2item',
      '--model',
      model,
      '--json',
    ];
    if (model === 'gnn') args.push('--checkpoint', out);
    const metrics = JSON.parse(edgerec(args)).metrics;
    scores[`item2item/${model}`] = metrics;
    metricRows.push([spec.name, 'item2item', model, metrics['HR@10'].toFixed(4), metrics.MRR.toFixed(4)]);
  }
  results.push({ data: spec.name, wallSeconds: wall, stages: manifest.stages, metrics: scores });
}
if (stageRows.length > 0) {
  log('\nTraining (edgerec train, defaults, seed 1)\n');
  log(formatTable(['data', 'stage', 'seconds', 'examples/s', 'peak RSS MiB', 'best epoch'], stageRows));
  log('\nTest split, seed 0 (item2item: HR@10 and MRR)\n');
  log(formatTable(['data', 'protocol', 'model', 'HR@10', 'NDCG@10 / MRR'], metricRows));
}
// Data sets of the scoring-path comparison (`--speed-data ml-100k` for a quick run).
const speedData = process.argv.includes('--speed-data')
  ? process.argv[process.argv.indexOf('--speed-data') + 1].split(',')
  : ['ml-100k', 'synthetic'];
const speed =
  !only || only === 'speed'
    ? await compareScoringSpeed(
        SPECS.filter((spec) => speedData.includes(spec.name)).map((spec) => {
          spec.prepare?.();
          return spec;
        }),
        log,
      )
    : [];
if (speed.length > 0) {
  log('\nScoring paths, old vs new in the same process (min of 2 runs each; ratios are what carries over)\n');
  log(
    formatTable(
      ['stage', 'work', 'old s', 'new s', 'speed-up', 'identical'],
      speed.map((row) => [
        row.stage,
        row.work,
        row.oldSeconds.toFixed(2),
        row.newSeconds.toFixed(2),
        `${row.speedup.toFixed(2)}x`,
        row.identical ? 'yes' : 'NO',
      ]),
    ),
  );
}
if (json) process.stdout.write(`${JSON.stringify({ node: process.version, results, speed })}\n`);
