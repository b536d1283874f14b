/**
 * `npx tsx test/bench/refit-check.ts --data PATH --format FMT [--seed 1]` — would validation choose
 * `edgerec train --refit`? The check steps the sasrec protocol back by one item: each user's last training
 * item becomes an inner validation item and the real validation stage plays the test. On that inner split
 * it trains what `edgerec train` trains for PinnerFormer (the PinSage graph and GNN, with the pipeline's
 * own helpers, then PinnerFormer early-stopped on the inner validation item), refits PinnerFormer on all
 * training events for the epochs that chose, and scores both on every real validation user. The real test stage is never read: the inner
 * split is cut from the training and validation parts only.
 */
import { DATA_FORMATS } from '../../src/core/dataset.ts';
import { evaluate, fitOnSplit, refitData, trainingData } from '../../src/core/eval/harness.ts';
import { buildSplit, type EvalSplit } from '../../src/core/eval/split.ts';
import { filterLog, groupRowsByUser, userItemsFromLists, userItemsOf } from '../../src/core/interactions.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { trainGnn } from '../../src/train/gnn/index.ts';
import { gnnValidation, sampleItemGraph } from '../../src/train/gnn-stage.ts';
import { PinnerFormerRecommender } from '../../src/train/pinnerformer/index.ts';
import { VALIDATION_USERS } from '../../src/train/pipeline.ts';
import { benchArgs } from './args.ts';
import { requireScorableUsers } from './split-check.ts';

const args = benchArgs({
  script: 'refit-check.ts',
  flags: {
    data: { type: 'string', value: 'PATH' },
    format: { type: 'string', value: DATA_FORMATS.join('|') },
    seed: { type: 'string', value: 'N' },
  },
});
const data = args.required('data');
const format = args.choice('format', DATA_FORMATS, undefined) ?? args.fail(`--format is required`);
const seed = args.integer('seed', 1);

/** The sasrec split one item earlier: train minus each user's last item, which becomes validation; test = validation. */
function stepBack(split: EvalSplit): EvalSplit {
  const { rows, offsets } = groupRowsByUser(split.trainLog, split.numUsers);
  const held = new Uint8Array(split.trainLog.length);
  const train: number[][] = [];
  const valid: number[][] = [];
  for (let u = 0; u < split.numUsers; u++) {
    const items = Array.from(userItemsOf(split.train, u));
    if (items.length < 2) {
      train.push(items);
      valid.push([]);
      continue;
    }
    // Everything from the last training item's first engagement on is the inner validation period.
    const last = items[items.length - 1];
    let cut = offsets[u];
    while (cut < offsets[u + 1] && split.trainLog.item[rows[cut]] !== last) cut++;
    for (let i = cut; i < offsets[u + 1]; i++) held[rows[i]] = 1;
    train.push(items.slice(0, -1));
    valid.push([last]);
  }
  return {
    ...split,
    train: userItemsFromLists(train),
    valid: userItemsFromLists(valid),
    test: split.valid,
    trainLog: filterLog(split.trainLog, (r) => held[r] === 0),
    validLog: filterLog(split.trainLog, (r) => held[r] === 1),
    description: `${split.description}, stepped back one item (inner validation: the last training item)`,
  };
}

const dataset = await loadDataset(data, format);
const inner = stepBack(buildSplit(dataset, { protocol: 'sasrec', positives: 'engaged' }));
requireScorableUsers('refit-check.ts', inner, ['valid', 'test']);
const note = (text: string) => process.stderr.write(`${text}\n`);
const since = (t: number) => Math.round((performance.now() - t) / 1000);

let started = performance.now();
const innerData = trainingData(inner);
const neighbors = await sampleItemGraph(innerData, seed);
const gnn = await trainGnn(
  innerData,
  neighbors,
  { seed },
  { validate: gnnValidation(inner, 64, seed, VALIDATION_USERS) },
);
note(`GNN on the inner split: ${since(started)} s, best epoch ${gnn.bestEpoch + 1}`);
const features = { table: gnn.table, dim: 64 };

started = performance.now();
const selection = new PinnerFormerRecommender({ seed }, features, {
  onEpoch: (r) =>
    note(`selection epoch ${r.epoch + 1}: inner validation NDCG@10 ${r.validation?.toFixed(4)}`),
});
await fitOnSplit(selection, inner, { seed, validationUsers: VALIDATION_USERS });
const epochs = (selection.describe().bestEpoch as number) + 1;
const selectionSeconds = since(started);

started = performance.now();
const refit = new PinnerFormerRecommender({ seed, maxEpochs: epochs }, features);
await refit.fit(refitData(inner));
const refitSeconds = since(started);

const score = (model: PinnerFormerRecommender) => evaluate(model, inner, 'test', { seed }).metrics;
const a = score(selection);
const b = score(refit);
const f = (x: number) => x.toFixed(4);
process.stdout.write(
  `# ${dataset.name}, sasrec protocol stepped back one item, seed ${seed}; scored on every real validation user\n` +
    '| PinnerFormer | epochs | valid HR@10 | valid NDCG@10 | seconds |\n|---|---|---|---|---|\n' +
    `| selection (early-stopped on the inner validation item) | ${epochs} | ${f(a['HR@10'])} | ${f(a['NDCG@10'])} | ${selectionSeconds} |\n` +
    `| refit on training events | ${epochs} | ${f(b['HR@10'])} | ${f(b['NDCG@10'])} | ${refitSeconds} |\n` +
    `| refit − selection | | ${f(b['HR@10'] - a['HR@10'])} | ${f(b['NDCG@10'] - a['NDCG@10'])} | |\n`,
);
