/**
 * `npx tsx test/bench/refit-check.ts --data PATH --format FMT [--seed 1]` — would validation choose
 * `edgerec train --refit`? The check steps the sasrec protocol back by one item: each user's last training
 * item becomes an inner validation item and the real validation stage plays the test. On that inner split
 * it trains what `edgerec train` trains, with the pipeline's own helpers: the PinSage graph and GNN,
 * PinnerFormer and LightGCN early-stopped on the inner validation item, each refit on all training events
 * for the epochs that chose (PinnerFormer's refit both on the selection GNN's table and on the refit GNN's,
 * which `--refit` publishes), and the blend's weight chosen on the selection models. It scores every model
 * and blend on every real validation user. The real test stage is never read: the inner split is cut from
 * the training and validation parts only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_FORMATS } from '../../src/core/dataset.ts';
import { evaluate, fitOnSplit, refitData, trainingData } from '../../src/core/eval/harness.ts';
import type { Recommender } from '../../src/core/eval/model.ts';
import { buildSplit, type EvalSplit } from '../../src/core/eval/split.ts';
import { filterLog, groupRowsByUser, userItemsFromLists, userItemsOf } from '../../src/core/interactions.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { trainGnn } from '../../src/train/gnn/index.ts';
import { gnnValidation, refitGnn, sampleItemGraph } from '../../src/train/gnn-stage.ts';
import { PinnerFormerRecommender } from '../../src/train/pinnerformer/index.ts';
import {
  type RunManifest,
  type StageRecord,
  type TrainRunOptions,
  VALIDATION_USERS,
} from '../../src/train/pipeline.ts';
import { BlendRecommender } from '../../src/train/space/index.ts';
import { chooseRetrievalSpace, trainLightGcnStage } from '../../src/train/space/stages.ts';
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
// Training + inner validation events: what every refit below trains on.
const innerRefitData = refitData(inner);
const refit = new PinnerFormerRecommender({ seed, maxEpochs: epochs }, features);
await refit.fit(innerRefitData);
const refitSeconds = since(started);

// The GNN refit for its selection's best epoch count, and PinnerFormer's refit reading its table.
started = performance.now();
const gnnRefitTable = await refitGnn(innerRefitData, { seed }, gnn.bestEpoch + 1);
const gnnRefitSeconds = since(started);
note(`GNN refit: ${gnnRefitSeconds} s`);
started = performance.now();
const refitOnRefitGnn = new PinnerFormerRecommender(
  { seed, maxEpochs: epochs },
  { table: gnnRefitTable, dim: 64 },
);
await refitOnRefitGnn.fit(innerRefitData);
const refitOnRefitGnnSeconds = since(started);

// LightGCN, the blend's other half, through the pipeline's own stage: early-stopped on the inner validation
// item, then refit for the epochs that chose (its tables go to a temporary folder).
started = performance.now();
const lightgcnDir = mkdtempSync(join(tmpdir(), 'edgerec-refit-check-'));
const runOptions: TrainRunOptions = {
  protocol: 'sasrec',
  positives: 'engaged',
  seed,
  gnnFeatures: true,
  refit: true,
};
const manifest = { stages: {}, tables: {} } as RunManifest;
const lightgcn = await trainLightGcnStage(
  inner,
  lightgcnDir,
  runOptions,
  manifest,
  () => {},
  () => {},
);
rmSync(lightgcnDir, { recursive: true, force: true });
const lightgcnRecord = manifest.stages.lightgcn as StageRecord;
const lightgcnSeconds = since(started);
// The blend's weight and scales, chosen on the inner validation item with both selection models, as a run does.
const { blend } = chooseRetrievalSpace(
  inner,
  runOptions,
  { pinnerformer: selection, lightgcn: lightgcn.selection },
  undefined,
);
if (!blend) throw new Error('refit-check.ts: no blend was scored');

const score = (model: Recommender) => evaluate(model, inner, 'test', { seed }).metrics;
const rows: [string, number | string, Recommender, number | string][] = [
  [
    'PinnerFormer, selection (early-stopped on the inner validation item)',
    epochs,
    selection,
    selectionSeconds,
  ],
  ['PinnerFormer, refit on training events, selection GNN table', epochs, refit, refitSeconds],
  [
    `PinnerFormer, refit on training events, refit GNN table (what \`--refit\` publishes; GNN refit ${gnnRefitSeconds} s, epochs ${gnn.bestEpoch + 1})`,
    epochs,
    refitOnRefitGnn,
    refitOnRefitGnnSeconds,
  ],
  ['LightGCN, selection', (lightgcnRecord.bestEpoch as number) + 1, lightgcn.selection, lightgcnSeconds],
  ['LightGCN, refit', lightgcnRecord.refit?.epochs ?? '', lightgcn.published, ''],
  [
    `blend, both selection models (weight ${blend.weight})`,
    '',
    new BlendRecommender(selection, lightgcn.selection, blend),
    '',
  ],
  [
    'blend, both refit, PinnerFormer on the selection GNN table',
    '',
    new BlendRecommender(refit, lightgcn.published, blend),
    '',
  ],
  [
    'blend, both refit, PinnerFormer on the refit GNN table (what `--refit` publishes)',
    '',
    new BlendRecommender(refitOnRefitGnn, lightgcn.published, blend),
    '',
  ],
];
const f = (x: number) => x.toFixed(4);
const scored = rows.map(([name, n, model, seconds]) => ({ name, n, seconds, metrics: score(model) }));
const difference = (label: string, a: number, b: number) =>
  `| ${label} | | ${f(scored[b].metrics['HR@10'] - scored[a].metrics['HR@10'])} | ${f(scored[b].metrics['NDCG@10'] - scored[a].metrics['NDCG@10'])} | |\n`;
process.stdout.write(
  `# ${dataset.name}, sasrec protocol stepped back one item, seed ${seed}; scored on every real validation user\n` +
    '| model | epochs | valid HR@10 | valid NDCG@10 | seconds |\n|---|---|---|---|---|\n' +
    scored
      .map(
        ({ name, n, seconds, metrics }) =>
          `| ${name} | ${n} | ${f(metrics['HR@10'])} | ${f(metrics['NDCG@10'])} | ${seconds} |\n`,
      )
      .join('') +
    difference('PinnerFormer: refit − selection', 0, 1) +
    difference('PinnerFormer refit: refit GNN table − selection GNN table', 1, 2) +
    difference('LightGCN: refit − selection', 3, 4) +
    difference('blend: refit GNN table − selection GNN table', 6, 7) +
    difference('blend: what `--refit` publishes − both selection', 5, 7),
);
