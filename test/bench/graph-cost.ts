/**
 * CPU cost of the graph models on one data set, in CPU seconds of this process (process.cpuUsage), so the
 * figure means something on a shared, overloaded machine where wall time does not: one LightGCN batch
 * (forward and backward propagation plus the BPR gradient) and the GF-CF build (normalisation + SVD).
 *
 *   npx tsx test/bench/graph-cost.ts DATA FORMAT PROTOCOL
 */
import { cpus, loadavg } from 'node:os';
import { DATA_FORMATS } from '../../src/core/dataset.ts';
import { trainingData } from '../../src/core/eval/harness.ts';
import { buildSplit, PROTOCOLS } from '../../src/core/eval/split.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { GfcfRecommender } from '../../src/train/gfcf/index.ts';
import { bprLossAndGradient, normalizedAdjacency, Propagation } from '../../src/train/lightgcn/index.ts';
import { benchArgs } from './args.ts';

const args = benchArgs({
  script: 'graph-cost.ts',
  flags: {},
  positionals: { usage: 'graph-cost.ts DATA FORMAT PROTOCOL', min: 3, max: 3 },
});
const [path] = args.positionals;
const format = args.asChoice('FORMAT', args.positionals[1], DATA_FORMATS);
const protocol = args.asChoice('PROTOCOL', args.positionals[2], PROTOCOLS);
const cpuSeconds = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
const dataset = await loadDataset(path, format);
const split = buildSplit(dataset, { protocol });
const data = trainingData(split);
const dim = 64;
const batchSize = 8192;
const nodes = data.numUsers + data.numItems;
const propagation = new Propagation(normalizedAdjacency(data.train, data.numItems), dim, 3);
const weights = Float32Array.from({ length: nodes * dim }, (_, i) => ((i * 2654435761) % 1000) / 1e4);
const batch = {
  users: Int32Array.from({ length: batchSize }, (_, s) => (s * 7919) % data.numUsers),
  positives: Int32Array.from({ length: batchSize }, (_, s) => (s * 104729) % data.numItems),
  negatives: Int32Array.from({ length: batchSize }, (_, s) => (s * 15485863) % data.numItems),
};
const scratch = { final: new Float32Array(nodes * dim), gradFinal: new Float32Array(nodes * dim) };
const grad = new Float32Array(nodes * dim);
bprLossAndGradient(propagation, weights, batch, data.numUsers, 1e-4, scratch, grad);
const steps = 3;
let started = cpuSeconds();
for (let s = 0; s < steps; s++)
  bprLossAndGradient(propagation, weights, batch, data.numUsers, 1e-4, scratch, grad);
const batchCpu = (cpuSeconds() - started) / steps;
const batchesPerEpoch = Math.ceil(data.train.items.length / batchSize);
started = cpuSeconds();
const gfcf = new GfcfRecommender({ alphas: [0.3] });
await gfcf.fit(data);
const gfcfCpu = cpuSeconds() - started;
process.stdout.write(
  `${JSON.stringify({
    data: path,
    protocol,
    users: data.numUsers,
    items: data.numItems,
    trainEdges: data.train.items.length,
    lightgcnBatchCpuSeconds: Math.round(batchCpu * 1000) / 1000,
    batchesPerEpoch,
    lightgcnEpochCpuSeconds: Math.round(batchCpu * batchesPerEpoch * 10) / 10,
    gfcfBuildCpuSeconds: Math.round(gfcfCpu * 10) / 10,
    gfcf: gfcf.describe(),
    loadavg: loadavg().map((x) => Math.round(x * 10) / 10),
    cpus: cpus().length,
  })}\n`,
);
