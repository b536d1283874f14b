/**
 * `npx tsx test/bench/blend-bundle.ts [--run DIR] [--out DIR]` — builds a bundle from a run whose retrieval
 * space is the blend (by default `.cache/default-space`, which `test/bench/default-space.ts` trains), with
 * the default bundle's edge sizes and ranker snapshot: the check that everything downstream of the space
 * (quantized tables, the encoder distilled to the 128-d concatenated user, the rankers' inputs) takes a
 * table wider than 64. Prints the build's variants, dims and seconds (process CPU included).
 */
import { join } from 'node:path';
import { buildBundle } from '../../src/train/bundle/build.ts';
import { DEFAULT_EDGE_EPOCHS, DEFAULT_GNN } from '../../src/train/bundle/default-data.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { readRunManifest } from '../../src/train/pipeline.ts';
import { benchArgs } from './args.ts';

const { values } = benchArgs({
  script: 'blend-bundle.ts',
  flags: { run: { type: 'string', value: 'DIR' }, out: { type: 'string', value: 'DIR' } },
});
const runDir = values.run ?? join('.cache', 'default-space');
const outDir = values.out ?? join('.cache', 'blend-bundle');
const run = readRunManifest(runDir);
if (run.retrieval?.model !== 'blend')
  throw new Error(`${runDir} serves ${run.retrieval?.model}, not the blend`);
const started = performance.now();
const dataset = await loadDataset(run.data, run.dataFormat as never);
const report = await buildBundle({
  checkpointDir: runDir,
  outDir,
  dataset,
  snapshot: { gnn: DEFAULT_GNN },
  edge: DEFAULT_EDGE_EPOCHS,
  onProgress: ({ stage, done, total, note }) => {
    if (done === 0) process.stderr.write(`${stage} ${done}/${total} ${note ?? ''}\n`);
  },
});
const { user, system } = process.cpuUsage();
process.stdout.write(
  `${JSON.stringify(
    {
      version: report.version,
      dir: report.dir,
      wallSeconds: Math.round((performance.now() - started) / 1000),
      cpuSeconds: Math.round((user + system) / 1e6),
      variants: report.variants.map((v) => ({
        kind: v.kind,
        role: v.role,
        fusion: v.fusion,
        dtype: v.form ? `${v.dtype}-${v.form}` : v.dtype,
        bytes: v.bytes,
        metrics: v.metrics,
      })),
      training: report.training,
    },
    null,
    2,
  )}\n`,
);
