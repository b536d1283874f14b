/**
 * Validation-only sweep for the graph models: fits LightGCN or GF-CF with the given options on the
 * training split and prints the validation curve of the metric `edgerec eval` uses to stop early and pick
 * α (Recall@20 under full ranking; NDCG@10 under the sampled sasrec protocol, which has no Recall). With `--test` it then scores the test split once, as `edgerec eval` does (seed 0),
 * for settings other than the defaults; without it the test split is never touched.
 *
 *   npx tsx test/bench/graph-validation.ts DATA FORMAT PROTOCOL lightgcn|gfcf '{"learningRate":0.005}' [--test]
 */
import { DATA_FORMATS } from '../../src/core/dataset.ts';
import { evaluate, trainingData } from '../../src/core/eval/harness.ts';
import type { Recommender } from '../../src/core/eval/model.ts';
import { buildSplit, PROTOCOLS } from '../../src/core/eval/split.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { GfcfRecommender } from '../../src/train/gfcf/index.ts';
import { LightGcnRecommender } from '../../src/train/lightgcn/index.ts';
import { retrievalMetric } from '../../src/train/space/stages.ts';
import { benchArgs } from './args.ts';
import { requireScorableUsers } from './split-check.ts';

const args = benchArgs({
  script: 'graph-validation.ts',
  flags: { test: { type: 'boolean' } },
  positionals: {
    usage: 'graph-validation.ts DATA FORMAT PROTOCOL lightgcn|gfcf [OPTIONS_JSON]',
    min: 4,
    max: 5,
  },
});
const [path, , , , json = '{}'] = args.positionals;
const format = args.asChoice('FORMAT', args.positionals[1], DATA_FORMATS);
const protocol = args.asChoice('PROTOCOL', args.positionals[2], PROTOCOLS);
const name = args.asChoice('MODEL', args.positionals[3], ['lightgcn', 'gfcf']);
const options = { seed: 1, ...args.asJsonObject('OPTIONS_JSON', json) };
const dataset = await loadDataset(path, format);
const split = buildSplit(dataset, { protocol });
requireScorableUsers('graph-validation.ts', split, args.values.test ? ['valid', 'test'] : ['valid']);
const model: Recommender =
  name === 'lightgcn' ? new LightGcnRecommender(options) : new GfcfRecommender(options);
const metric = retrievalMetric(split);
const started = performance.now();
await model.fit(trainingData(split), {
  validate: () => {
    const value = evaluate(model, split, 'valid', { seed: 0, sampleUsers: 2000, ks: [10, 20] }).metrics[
      metric
    ];
    process.stderr.write(
      `validation ${metric} ${value.toFixed(4)} at ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
    );
    return value;
  },
  onProgress: (done, total, note) => {
    if (note === 'epochs' && done % 10 === 0)
      process.stderr.write(`${done}/${total} ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  },
});
const seconds = (performance.now() - started) / 1000;
const test = args.values.test ? evaluate(model, split, 'test', { seed: 0 }) : undefined;
process.stdout.write(
  `${JSON.stringify({ data: path, protocol, model: name, options, seconds: Math.round(seconds), params: model.describe?.(), test })}\n`,
);
