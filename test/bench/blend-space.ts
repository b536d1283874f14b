/**
 * `npx tsx test/bench/blend-space.ts --run DIR [--json]` — the retrieval-space table of a run that trained
 * both PinnerFormer and LightGCN (`edgerec train`, or `test/bench/default-space.ts`): the validation
 * rows that chose the space and the blend's weight (from run.json, computed by training), then the test
 * split scored once per reported configuration — PinnerFormer, LightGCN with fold-in users (as served),
 * and the blend at the weight validation chose. Every user with a test target is scored (no sampling).
 */

import { join } from 'node:path';
import { evaluate } from '../../src/core/eval/harness.ts';
import type { Recommender } from '../../src/core/eval/model.ts';
import { buildSplit } from '../../src/core/eval/split.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { loadPinnerFormer, PinnerFormerRecommender } from '../../src/train/pinnerformer/index.ts';
import { readRunManifest, readTable } from '../../src/train/pipeline.ts';
import { loadRunBlend, RUN_SPACE_FILES } from '../../src/train/space/index.ts';
import { LightGcnFoldIn, retrievalMetric } from '../../src/train/space/stages.ts';
import { benchArgs } from './args.ts';

const args = benchArgs({
  script: 'blend-space.ts',
  flags: { run: { type: 'string', value: 'DIR' }, json: { type: 'boolean' } },
});
const runDir = args.required('run');
const run = readRunManifest(runDir);
const choice = run.retrieval;
if (!choice?.blend) throw new Error(`${runDir}/run.json records no blend: train both spaces with this code`);
const dataset = await loadDataset(run.data, run.dataFormat as never);
const split = buildSplit(dataset, { protocol: run.protocol, positives: run.positives });

const { model, hasTimestamps } = await loadPinnerFormer(join(runDir, RUN_SPACE_FILES.pinnerformer.model));
const lightgcnDim = run.tables[RUN_SPACE_FILES.lightgcn.items][1];
const candidates: [string, Recommender][] = [
  ['pinnerformer', PinnerFormerRecommender.fromModel(model, hasTimestamps)],
  [
    'lightgcn',
    new LightGcnFoldIn(
      readTable(join(runDir, RUN_SPACE_FILES.lightgcn.items)),
      readTable(join(runDir, RUN_SPACE_FILES.lightgcn.model)),
      lightgcnDim,
    ),
  ],
  ['blend', await loadRunBlend(runDir)],
];
const test: Record<string, Record<string, number>> = {};
for (const [name, recommender] of candidates) {
  const result = evaluate(recommender, split, 'test', { seed: 0, ks: [10, 20] });
  test[name] = {
    users: result.users,
    'Recall@20': result.metrics['Recall@20'],
    'NDCG@20': result.metrics['NDCG@20'],
    'HR@10': result.metrics['HR@10'],
  };
}
const report = {
  data: `${run.dataName} (${run.protocol}, seed ${run.seed})`,
  validationMetric: retrievalMetric(split),
  chosen: choice.model,
  chosenBy: choice.chosenBy,
  validation: choice.validation,
  blend: choice.blend,
  test,
};
if (args.values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else {
  const f = (x: number) => x.toFixed(4);
  const lines = [
    `${report.data}: retrieval space ${choice.model} (${choice.chosenBy}, validation ${report.validationMetric})`,
    `blend σ: pinnerformer ${choice.blend.scales.pinnerformer}, lightgcn ${choice.blend.scales.lightgcn}`,
    `validation grid (w = LightGCN's share): ${choice.blend.grid.map((r) => `${r.weight}: ${f(r.score)}`).join('  ')}`,
    '| candidate | validation | test Recall@20 | test NDCG@20 | test HR@10 |',
    '|---|---|---|---|---|',
    ...candidates.map(([name]) => {
      const label = name === 'blend' ? `blend (w ${choice.blend?.weight})` : name;
      const t = test[name];
      return `| ${label} | ${f(choice.validation[name as 'blend'] ?? Number.NaN)} | ${f(t['Recall@20'])} | ${f(t['NDCG@20'])} | ${f(t['HR@10'])} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
