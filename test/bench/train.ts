/**
 * `npm run bench:train [-- --json] [-- --only synthetic|amazon-games|ml-100k] [-- --protocol sasrec|full|temporal] [-- --resume]`
 * — trains the global models with the CLI on each data set (fresh output folders under .cache/bench-train/),
 * then fits and scores every harness model on the test split of the same protocol in the same run: pop,
 * item-kNN, BPR (with the data set's tuned settings from tune/results/ where they exist), LightGCN, GF-CF,
 * the GNN and PinnerFormer. Prints wall time, CPU time, throughput and peak memory per training stage and per
 * fitted model, and metrics (HR@10 / NDCG@10 under sasrec; Recall@20 / NDCG@20 under full and temporal),
 * then the speed-up of each training-time scoring path against the code it replaced (`--only speed`: just
 * that; `--speed-data ml-100k`: on that data set only).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable } from '../../src/cli/report.ts';
import type { RunManifest } from '../../src/train/pipeline.ts';
import { benchArgs } from './args.ts';
import { compareScoringSpeed } from './train-speed.ts';

/** The data sets (SPECS below). */
const DATA_NAMES = ['synthetic', 'ml-100k', 'amazon-games'] as const;
const cli = benchArgs({
  script: 'bench:train (test/bench/train.ts)',
  flags: {
    json: { type: 'boolean' },
    only: { type: 'string', value: `${DATA_NAMES.join('|')}|speed` },
    protocol: { type: 'string', value: 'sasrec|full|temporal' },
    resume: { type: 'boolean' },
    'speed-data': { type: 'string', value: DATA_NAMES.join(',') },
  },
});
const json = cli.values.json ?? false;
const only = cli.choice('only', [...DATA_NAMES, 'speed'], undefined);
const protocol = cli.choice('protocol', ['sasrec', 'full', 'temporal'], 'sasrec');
/** Data sets of the scoring-path comparison (`--speed-data ml-100k` for a quick run). */
const speedData = cli.list('speed-data', ['ml-100k', 'synthetic'], DATA_NAMES);
/** Under the LightGCN protocol (full ranking) the table reports its metrics; sasrec keeps HR@10 / NDCG@10. */
const METRICS = protocol === 'sasrec' ? ['HR@10', 'NDCG@10'] : ['Recall@20', 'NDCG@20', 'HR@10'];
/** `--resume`: keep the output folder, so train resumes its finished stages (their first timings are kept). */
const resume = cli.values.resume ?? false;
const EVAL_MODELS = ['pop', 'itemknn', 'bpr', 'lightgcn', 'gfcf', 'gnn', 'pinnerformer'];
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
  name: (typeof DATA_NAMES)[number];
  /** File prefix of the data set's tune results (tune/results/<prefix>-bpr[-protocol].json). */
  tunePrefix: string;
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
    tunePrefix: 'synthetic',
    path: join(synthetic, 'events.jsonl'),
    format: 'events',
    trainArgs: ['--max-epochs', '5'],
    prepare: () => {
      if (!existsSync(join(synthetic, 'events.jsonl'))) edgerec(['data', 'gen', '--out', synthetic]);
    },
  },
  {
    name: 'ml-100k',
    tunePrefix: 'ml100k',
    path: join(root, '../shared/datasets/ml-100k/u.data'),
    format: 'movielens',
  },
  {
    name: 'amazon-games',
    tunePrefix: 'games',
    path: join(root, '../shared/datasets/amazon-games/sequences.txt'),
    format: 'sequences',
  },
];

/** The fields of `edgerec eval --json` this bench reads. */
interface EvalReport {
  metrics: Record<string, number>;
  fitSeconds?: number;
  cpuSeconds: number;
  peakRssMiB: number;
  params: Record<string, unknown>;
}

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
  const out = join(work, `run-${spec.name}-${protocol}`);
  if (!resume) rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const started = performance.now();
  edgerec(
    [
      'train',
      '--data',
      spec.path,
      '--format',
      spec.format,
      '--protocol',
      protocol,
      '--out',
      out,
      ...(spec.trainArgs ?? []),
    ],
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
  const fits: Record<string, unknown> = {};
  // BPR's settings were chosen per data set on validation (`edgerec tune`); the sasrec results predate the
  // protocol suffix in their names.
  const tuned = join(
    root,
    'tune',
    'results',
    `${spec.tunePrefix}-bpr${protocol === 'sasrec' ? '' : `-${protocol}`}.json`,
  );
  for (const model of EVAL_MODELS) {
    const args = ['eval', '--data', spec.path, '--format', spec.format, '--protocol', protocol];
    args.push('--model', model, '--json');
    if (model === 'gnn' || model === 'pinnerformer') args.push('--checkpoint', out);
    if (model === 'bpr' && existsSync(tuned)) args.push('--tuned', tuned);
    const report = JSON.parse(edgerec(args)) as EvalReport;
    scores[model] = report.metrics;
    fits[model] = { fitSeconds: report.fitSeconds, cpuSeconds: report.cpuSeconds, params: report.params };
    const buildSeconds = report.params.buildSeconds;
    metricRows.push([
      spec.name,
      protocol,
      model === 'bpr' && existsSync(tuned) ? 'bpr (tuned)' : model,
      report.fitSeconds?.toFixed(1) ?? 'train ↑',
      typeof buildSeconds === 'number' ? buildSeconds.toFixed(1) : '',
      report.cpuSeconds.toFixed(1),
      String(report.peakRssMiB),
      ...METRICS.map((metric) => report.metrics[metric].toFixed(4)),
    ]);
  }
  // Item-to-item queries come from the sasrec split, so the checkpoint must be a sasrec run.
  for (const model of protocol === 'sasrec' ? ['itemknn', 'gnn'] : []) {
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
    metricRows.push([
      spec.name,
      'item2item',
      model,
      '',
      '',
      '',
      '',
      metrics['HR@10'].toFixed(4),
      metrics.MRR.toFixed(4),
    ]);
  }
  results.push({
    data: spec.name,
    protocol,
    wallSeconds: wall,
    stages: manifest.stages,
    metrics: scores,
    fits,
  });
}
if (stageRows.length > 0) {
  log('\nTraining (edgerec train, defaults, seed 1)\n');
  log(formatTable(['data', 'stage', 'seconds', 'examples/s', 'peak RSS MiB', 'best epoch'], stageRows));
  log(
    '\nTest split, seed 0 (edgerec eval, one process per model: fit wall s, GF-CF build s, process CPU s and ' +
      'peak RSS; gnn and pinnerformer are read from the training run above; item2item: HR@10 and MRR)\n',
  );
  log(
    formatTable(
      [
        'data',
        'protocol',
        'model',
        'fit s',
        'build s',
        'CPU s',
        'peak RSS MiB',
        METRICS[0],
        `${METRICS[1]}${protocol === 'sasrec' ? ' / MRR' : ''}`,
        ...METRICS.slice(2),
      ],
      metricRows,
    ),
  );
}
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
const report = JSON.stringify({ node: process.version, protocol, results, speed });
if (json) process.stdout.write(`${report}\n`);
// Every run also leaves its numbers beside the run folders, for tables written after the fact.
if (results.length > 0) writeFileSync(join(work, `results-${only ?? 'all'}-${protocol}.json`), `${report}\n`);
