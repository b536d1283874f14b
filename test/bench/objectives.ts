/**
 * `npx tsx test/bench/objectives.ts --data PATH --format FMT [--protocol temporal] [--max-epochs N]
 *  [--seed N] [--horizons 7,28] [--only OBJECTIVE]` — PinnerFormer's objective table (Pancha et al.,
 * Table 1) on one data set: Next Action, SASRec, All Action and Dense All Action at each horizon, the
 * same seed, epoch cap and early stopping (validation NDCG@10, as `edgerec train`) for every row, no GNN
 * features. Prints validation metrics at the best epoch, then test metrics, one row per objective as soon
 * as it is done. Choose on the validation columns; the test columns are computed once per row.
 * `--data synthetic:USERS,ITEMS,EVENTS,SEED` uses the embedded generator.
 */
import { evaluate, fitOnSplit } from '../../src/core/eval/harness.ts';
import { buildSplit, type Protocol } from '../../src/core/eval/split.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { generateSynthetic } from '../../src/train/data/synthetic/index.ts';
import {
  type PinnerFormerOptions,
  PinnerFormerRecommender,
  TRAINING_OBJECTIVES,
} from '../../src/train/pinnerformer/index.ts';

const arg = (name: string, fallback?: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};

const data = arg('data');
if (!data) throw new Error('--data PATH (or synthetic:USERS,ITEMS,EVENTS,SEED) is required');
const protocol = arg('protocol', 'temporal') as Protocol;
const seed = Number(arg('seed', '1'));
const maxEpochs = Number(arg('max-epochs', '10'));
const horizons = (arg('horizons', '7,28') as string).split(',').map(Number);
const only = arg('only');

const dataset = data.startsWith('synthetic:')
  ? (() => {
      const [users, items, events, dataSeed] = data.slice('synthetic:'.length).split(',').map(Number);
      return generateSynthetic({ users, items, events, seed: dataSeed });
    })()
  : await loadDataset(data, arg('format') as never);
const split = buildSplit(dataset, { protocol, positives: 'engaged' });

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
