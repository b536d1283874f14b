/**
 * How far the replay's learning rows move with tfjs's backend: the same sample replayed with the learning
 * variants on wasm (what `edgerec replay` and the lab worker run) and on the pure-JS cpu backend, whose float
 * sums differ. The bound of test/browser/lab.test.ts's learning rows rests on this. The small test bundle
 * (built by the browser project's global setup) by default:
 *
 *   npx tsx test/bench/replay-learned-backends.ts [MODELS RUN [MAX_USERS]]
 */
import * as tf from '@tensorflow/tfjs';
import { LEARNED_VARIANTS, namedVariant, REPLAY_METRICS } from '../../src/core/replay/index.ts';
import { prepareReplayNode, runReplayNode } from '../../src/train/replay/run.ts';
import { initTraining } from '../../src/train/tf/backend.ts';
import { benchArgs } from './args.ts';

const args = benchArgs({
  script: 'replay-learned-backends.ts',
  flags: {},
  positionals: { usage: 'replay-learned-backends.ts [MODELS RUN [MAX_USERS]]', min: 0, max: 3 },
});
const [models = 'test/generated/bundle', checkpoint = 'test/generated/run'] = args.positionals;
const maxUsers = args.asInteger('MAX_USERS', args.positionals[2] ?? '60', 1);
const split = 'valid';
const seed = 0;
const prepared = await prepareReplayNode({ models, checkpoint, split });

async function replayOn(backend: 'wasm' | 'cpu') {
  const loadTf = async () => {
    await initTraining(); // registers wasm; then the backend asked for
    if (!(await tf.setBackend(backend))) throw new Error(`tfjs: no ${backend} backend`);
    await tf.ready();
    return tf;
  };
  const started = performance.now();
  const report = await runReplayNode({
    prepared,
    models,
    checkpoint,
    split,
    seed,
    maxUsers,
    variants: LEARNED_VARIANTS.map((name) => namedVariant(name, loadTf)),
  });
  return { report, seconds: (performance.now() - started) / 1000 };
}

const wasm = await replayOn('wasm');
const cpu = await replayOn('cpu');
console.log(
  `${split} window, ${maxUsers} users (seed ${seed}), ${wasm.report.requests} requests; ` +
    `wasm ${wasm.seconds.toFixed(1)} s, cpu ${cpu.seconds.toFixed(1)} s`,
);
for (const row of wasm.report.rows) {
  const other = cpu.report.rows.find((r) => r.variant === row.variant)!;
  const cells = REPLAY_METRICS.map(
    (m) =>
      `${m} ${row.metrics[m].toFixed(6)} / ${other.metrics[m].toFixed(6)} (|Δ| ${Math.abs(row.metrics[m] - other.metrics[m]).toExponential(1)})`,
  );
  console.log(`${row.variant} wasm / cpu: ${cells.join(', ')}`);
}
