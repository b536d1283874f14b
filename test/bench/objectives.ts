/**
 * `npx tsx test/bench/objectives.ts --data PATH --format FMT [--protocol temporal] [--max-epochs N]
 *  [--seed N] [--horizons 7,28] [--only OBJECTIVE]` — PinnerFormer's objective table (Pancha et al.,
 * Table 1) on one data set: Next Action, SASRec, All Action and Dense All Action at each horizon, the
 * same seed, epoch cap and early stopping (validation NDCG@10, as `edgerec train`) for every row, no GNN
 * features. Prints validation metrics at the best epoch, then test metrics, one row per objective as soon
 * as it is done. Choose on the validation columns; the test columns are computed once per row.
 * `--data synthetic:USERS,ITEMS,EVENTS,SEED` uses the embedded generator.
 */
import { DATA_FORMATS } from '../../src/core/dataset.ts';
import { evaluate, fitOnSplit } from '../../src/core/eval/harness.ts';
import { buildSplit, PROTOCOLS } from '../../src/core/eval/split.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { generateSynthetic } from '../../src/train/data/synthetic/index.ts';
import {
  type PinnerFormerOptions,
  PinnerFormerRecommender,
  TRAINING_OBJECTIVES,
} from '../../src/train/pinnerformer/index.ts';
import { benchArgs } from './args.ts';
import { requireScorableUsers } from './split-check.ts';

const args = benchArgs({
  script: 'objectives.ts',
  flags: {
    data: { type: 'string', value: 'PATH|synthetic:USERS,ITEMS,EVENTS,SEED' },
    format: { type: 'string', value: DATA_FORMATS.join('|') },
    protocol: { type: 'string', value: PROTOCOLS.join('|') },
    seed: { type: 'string', value: 'N' },
    'max-epochs': { type: 'string', value: 'N' },
    horizons: { type: 'string', value: 'DAYS_OR_ACTIONS,…' },
    only: { type: 'string', value: TRAINING_OBJECTIVES.join('|') },
  },
});
const data = args.required('data');
// synthetic:USERS,ITEMS,EVENTS,SEED; the generator's defaults stand in for values left off the end.
const synthetic = data.startsWith('synthetic:')
  ? (() => {
      const names = ['USERS', 'ITEMS', 'EVENTS', 'SEED'];
      const parts = args.asList('--data', data.slice('synthetic:'.length));
      if (parts.length > names.length)
        args.fail(`--data: expected synthetic:${names.join(',')}, got '${data}'`);
      const [users, items, events, seed] = parts.map((part, i) =>
        args.asInteger(`--data synthetic: ${names[i]}`, part, i < 3 ? 1 : undefined),
      );
      return { users, items, events, seed };
    })()
  : undefined;
const format = args.choice('format', DATA_FORMATS, undefined);
if (!synthetic && !format) args.fail(`--format ${DATA_FORMATS.join('|')} is required with --data PATH`);
const protocol = args.choice('protocol', PROTOCOLS, 'temporal');
const seed = args.integer('seed', 1);
const maxEpochs = args.integer('max-epochs', 10, 1);
const horizons = args.numbers('horizons', [7, 28], { above: 0 });
const only = args.choice('only', TRAINING_OBJECTIVES, undefined);

const dataset = synthetic ? generateSynthetic(synthetic) : await loadDataset(data, format!);
const split = buildSplit(dataset, { protocol, positives: 'engaged' });
requireScorableUsers('objectives.ts', split, ['valid', 'test']);

const rows: { name: string; options: Partial<PinnerFormerOptions> }[] = [];
for (const objective of TRAINING_OBJECTIVES) {
  if (only && objective !== only) continue;
  if (objective === 'next-action' || objective === 'sasrec')
    rows.push({ name: objective, options: { objective } });
  else
    for (const h of horizons) {
      const horizon = split.hasTimestamps ? { horizonDays: h } : { horizonActions: h };
      rows.push({
        name: `${objective} ${h}${split.hasTimestamps ? 'd' : ' actions'}`,
        options: { objective, ...horizon },
      });
    }
}

// The sampled protocol (sasrec) has no Recall@K: with one target per user, HR@K is the same quantity.
const hit = protocol === 'sasrec' ? 'HR@10' : 'Recall@10';
// With HR@10 as the hit column, the last test column would repeat it.
const extraHr = hit !== 'HR@10';
process.stdout.write(
  `# ${dataset.name}, ${protocol} protocol, seed ${seed}, max ${maxEpochs} epochs, patience 3, no GNN features\n` +
    `| objective | best epoch | valid ${hit} | valid NDCG@10 | test ${hit} | test NDCG@10 |${extraHr ? ' test HR@10 |' : ''} seconds |\n` +
    `|---|---|---|---|---|---|${extraHr ? '---|' : ''}---|\n`,
);
const f = (x: number) => x.toFixed(4);
for (const row of rows) {
  const started = performance.now();
  const model = new PinnerFormerRecommender({ seed, maxEpochs, ...row.options });
  await fitOnSplit(model, split, { seed, validationUsers: 3000 });
  const valid = evaluate(model, split, 'valid', { seed }).metrics;
  const test = evaluate(model, split, 'test', { seed }).metrics;
  const seconds = (performance.now() - started) / 1000;
  const bestEpoch = (model.describe().bestEpoch as number) + 1;
  process.stdout.write(
    `| ${row.name} | ${bestEpoch} | ${f(valid[hit])} | ${f(valid['NDCG@10'])} | ${f(test[hit])} | ` +
      `${f(test['NDCG@10'])} |${extraHr ? ` ${f(test['HR@10'])} |` : ''} ${seconds.toFixed(0)} |\n`,
  );
}
