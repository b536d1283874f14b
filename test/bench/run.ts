/**
 * `npm run bench` — Node-side benchmarks, each against a baseline measured in the same run.
 * `npm run bench -- --json` prints one JSON object instead of tables.
 */
import { existsSync } from 'node:fs';
import { formatTable } from '../../src/cli/report.ts';
import { evaluate, fitOnSplit } from '../../src/core/eval/harness.ts';
import { buildSplit } from '../../src/core/eval/split.ts';
import { Random } from '../../src/core/random.ts';
import { topK } from '../../src/core/topk.ts';
import { createBaseline } from '../../src/train/baselines/index.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { benchArgs } from './args.ts';
import { measure, round, timeOnce } from './measure.ts';

const { values } = benchArgs({ script: 'bench (test/bench/run.ts)', flags: { json: { type: 'boolean' } } });
const json = values.json ?? false;
const log = (text: string) => {
  if (!json) process.stdout.write(text);
};
const results: Record<string, unknown[]> = { topk: [], load: [], models: [] };

function benchTopK(): void {
  const random = new Random(7);
  const rows: string[][] = [];
  for (const n of [10_000, 100_000, 1_000_000]) {
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) scores[i] = random.next();
    const k = 200;
    const heap = measure(() => topK(scores, k));
    // Baseline: what one writes first — sort every index by score, take the head.
    const sorted = measure(
      () => {
        const order = Array.from({ length: n }, (_, i) => i);
        order.sort((a, b) => scores[b] - scores[a] || a - b);
        order.length = k;
      },
      { minRuns: 3, minMs: 200 },
    );
    results.topk.push({ n, k, heap, fullSort: sorted });
    rows.push([
      String(n),
      String(k),
      heap.p50_ms.toFixed(2),
      sorted.p50_ms.toFixed(2),
      `${(sorted.p50_ms / heap.p50_ms).toFixed(1)}x`,
    ]);
  }
  log(`\nExact top-k (src/core/topk.ts) vs sorting every score, Float32 scores\n`);
  log(formatTable(['items', 'k', 'heap p50 ms', 'full sort p50 ms', 'speed-up'], rows));
}

const DATASETS = [
  { name: 'ml-100k', path: '../shared/datasets/ml-100k/u.data', format: 'movielens' as const },
  {
    name: 'amazon-games',
    path: '../shared/datasets/amazon-games/sequences.txt',
    format: 'sequences' as const,
  },
];

async function benchDatasets(): Promise<void> {
  const loadRows: string[][] = [];
  const modelRows: string[][] = [];
  for (const spec of DATASETS) {
    if (!existsSync(spec.path)) {
      log(`\n(skipping ${spec.name}: ${spec.path} not found)\n`);
      continue;
    }
    const { value: dataset, ms } = await timeOnce(() => loadDataset(spec.path, spec.format));
    const rss = process.memoryUsage().rss;
    results.load.push({
      data: spec.name,
      rows: dataset.log.length,
      ms,
      rowsPerSecond: round(dataset.log.length / (ms / 1000), 0),
    });
    loadRows.push([
      spec.name,
      String(dataset.log.length),
      ms.toFixed(0),
      (dataset.log.length / (ms / 1000) / 1e6).toFixed(2),
      (rss / 2 ** 20).toFixed(0),
    ]);
    const split = buildSplit(dataset, { protocol: 'sasrec' });
    let popNdcg = 0;
    for (const name of ['pop', 'itemknn', 'bpr'] as const) {
      const model = createBaseline(name, 1);
      const fit = await timeOnce(() => fitOnSplit(model, split, { seed: 0 }));
      const scored = await timeOnce(() => evaluate(model, split, 'test', { seed: 0 }));
      const ndcg = scored.value.metrics['NDCG@10'];
      if (name === 'pop') popNdcg = ndcg;
      results.models.push({
        data: spec.name,
        model: name,
        fit_ms: fit.ms,
        eval_ms: scored.ms,
        users: scored.value.users,
        usersPerSecond: round(scored.value.users / (scored.ms / 1000), 0),
        'HR@10': round(scored.value.metrics['HR@10'], 4),
        'NDCG@10': round(ndcg, 4),
      });
      modelRows.push([
        spec.name,
        name,
        (fit.ms / 1000).toFixed(2),
        (scored.ms / 1000).toFixed(2),
        String(Math.round(scored.value.users / (scored.ms / 1000))),
        scored.value.metrics['HR@10'].toFixed(4),
        ndcg.toFixed(4),
        `${(ndcg / popNdcg).toFixed(2)}x`,
      ]);
    }
  }
  if (loadRows.length > 0) {
    log('\nStreaming loaders (line by line)\n');
    log(formatTable(['data', 'rows', 'ms', 'M rows/s', 'RSS MiB'], loadRows));
    log('\nBaselines, sasrec protocol, seed 0 (fit includes validation-driven early stopping)\n');
    log(
      formatTable(
        ['data', 'model', 'fit s', 'eval s', 'users/s', 'HR@10', 'NDCG@10', 'NDCG vs pop'],
        modelRows,
      ),
    );
  }
}

benchTopK();
await benchDatasets();
if (json) process.stdout.write(`${JSON.stringify({ node: process.version, ...results })}\n`);
