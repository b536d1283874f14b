/**
 * The default bundle's ranker students against their teachers on the VALIDATION window, for student
 * settings given as JSON on the command line (each trains the encoder, both teachers and both students,
 * as `edgerec bundle` does, on the default data and run: run `npx edgerec bundle --out models` first).
 *
 *   npx tsx test/bench/student-gap.ts '{"learningRate":0.003}' '{"learningRate":0.01}'
 */

import {
  DEFAULT_DATA_DIR,
  DEFAULT_EDGE_EPOCHS,
  DEFAULT_RUN_DIR,
} from '../../src/train/bundle/default-data.ts';
import { edgeWindows, trainEdgeModels } from '../../src/train/bundle/edge-models.ts';
import { trainFeatureSnapshot } from '../../src/train/bundle/feature-snapshot.ts';
import { loadDataset } from '../../src/train/data/load.ts';
import { readRunManifest } from '../../src/train/pipeline.ts';
import { loadUserSpace } from '../../src/train/space/index.ts';
import { initTraining } from '../../src/train/tf/backend.ts';
import { benchArgs } from './args.ts';

const args = benchArgs({
  script: 'student-gap.ts',
  flags: {},
  positionals: {
    usage: 'student-gap.ts STUDENT_JSON… (at least one, as \'{"learningRate":0.003}\')',
    min: 1,
    max: Infinity,
  },
});
const configs = args.positionals.map(
  (arg) => args.asJsonObject('STUDENT_JSON', arg) as Record<string, number>,
);
const dataset = await loadDataset(`${DEFAULT_DATA_DIR}/events.jsonl`, 'events');
const run = readRunManifest(DEFAULT_RUN_DIR);
const teacher = await loadUserSpace(DEFAULT_RUN_DIR);
await initTraining();
// The snapshot trained by `edgerec bundle` is in the run folder: this reads it back.
const snapshot = await trainFeatureSnapshot(
  dataset,
  run,
  DEFAULT_RUN_DIR,
  edgeWindows(dataset).trainStart,
  {},
);
const rows: string[] = [];
for (const student of configs) {
  const started = performance.now();
  const edge = trainEdgeModels(
    dataset,
    teacher,
    teacher.items,
    {
      seed: run.seed,
      distillAlpha: 0.5,
      ...DEFAULT_EDGE_EPOCHS,
      student: { ...DEFAULT_EDGE_EPOCHS.student, ...student },
    },
    () => {},
    snapshot,
  );
  const seconds = (performance.now() - started) / 1000;
  for (const fusion of ['late', 'early'] as const) {
    const pair = edge.rankers[fusion];
    rows.push(
      `| ${JSON.stringify(student)} | ${fusion} | ${pair.teacher.validation.toFixed(4)} | ${pair.student.validation.toFixed(4)} | ${(pair.student.validation - pair.teacher.validation).toFixed(4)} | ${pair.student.bestEpoch + 1} | ${seconds.toFixed(0)} |`,
    );
  }
  console.error(rows.slice(-2).join('\n'));
}
console.log(
  '| student setting | fusion | teacher valid AUC | student valid AUC | gap | student best epoch | s |',
);
console.log('|---|---|---|---|---|---|---|');
console.log(rows.join('\n'));
