/**
 * `npx tsx test/bench/default-space.ts [--out DIR]` — trains every retrieval candidate (GNN + PinnerFormer,
 * LightGCN) on the default bundle's data with the default bundle's sizes, temporal protocol, seed 1, and
 * prints the validation choice: the evidence behind DEFAULT_BUNDLE_MODELS (src/train/bundle/default-data.ts).
 */
import { join } from 'node:path';
import {
  DEFAULT_DATA_DIR,
  DEFAULT_GNN,
  DEFAULT_PINNERFORMER,
  ensureDefaultData,
} from '../../src/train/bundle/default-data.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { trainGlobalModels } from '../../src/train/pipeline.ts';
import { benchArgs } from './args.ts';

const { values } = benchArgs({
  script: 'default-space.ts',
  flags: { out: { type: 'string', value: 'DIR' } },
});
const out = values.out ?? join('.cache', 'default-space');
const events = await ensureDefaultData(DEFAULT_DATA_DIR);
const dataset = await loadDataset(events, 'events');
const started = performance.now();
const run = await trainGlobalModels(dataset, events, out, {
  protocol: 'temporal',
  positives: 'engaged',
  seed: 1,
  gnnFeatures: true,
  gnn: DEFAULT_GNN,
  pinnerformer: DEFAULT_PINNERFORMER,
  models: ['gnn', 'pinnerformer', 'lightgcn'],
});
process.stdout.write(
  `${JSON.stringify({ retrieval: run.retrieval, lightgcn: run.stages.lightgcn?.options, seconds: (performance.now() - started) / 1000 }, null, 2)}\n`,
);
