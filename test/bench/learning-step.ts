/**
 * `npx tsx test/bench/learning-step.ts` — how long one on-device learning step takes (tfjs wasm in Node),
 * the closed-form gradient of src/core/learning/step.ts against tfjs's autodiff of the same loss (what the
 * step was before). A recommend() in the engine waits at most for the step that had begun when it arrived
 * (src/engine/request-gate.ts), so this is the longest learning can hold a request up. The shape is a
 * full run's: 32 positives, the default 256 sampled negatives and 200 implicit ones, dim 64.
 */

import { loadavg } from 'node:os';
import type * as TfCore from '@tensorflow/tfjs-core';
import { percentile } from '../../src/core/lab/metrics.ts';
import { DEFAULT_LEARNING_OPTIONS, learnEmbedding } from '../../src/core/learning/index.ts';
import { initTraining } from '../../src/train/tf/backend.ts';
import { benchArgs } from './args.ts';

// It takes no flags: refuse any rather than ignore it.
benchArgs({ script: 'learning-step.ts', flags: {} });

const tf = await initTraining();
const dim = 64;
const positives = 32;
const count = positives + DEFAULT_LEARNING_OPTIONS.sampled + 200;
const rows = Float32Array.from({ length: count * dim }, (_, i) => Math.sin(i * 12.9898) * 0.2);
const weights = new Float32Array(positives).fill(1 / positives);
const examples = {
  items: Int32Array.from({ length: count }, (_, i) => i),
  positives,
  positiveWeights: weights,
  negativeLogWeights: new Float32Array(count - positives),
  counts: { positives, hides: 0, implicit: 200, sampled: DEFAULT_LEARNING_OPTIONS.sampled },
};
const options = DEFAULT_LEARNING_OPTIONS;
const RUNS = 20;

const quantiles = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => percentile(s, q).toFixed(3);
  return `p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${at(1)} ms (${s.length} steps)`;
};

/** The closed-form step: the time between learnEmbedding's onStep calls (the step's kernels alone). */
async function closedForm(): Promise<number[]> {
  const ms: number[] = [];
  for (let r = 0; r < RUNS + 3; r++) {
    let last = performance.now();
    await learnEmbedding(tf, examples, rows, undefined, dim, options, () => {
      const now = performance.now();
      if (r >= 3) ms.push(now - last);
      last = now;
    });
  }
  return ms;
}

/** The same proximal step with tfjs's autodiff of the softmax part. */
function autodiff(): number[] {
  const x = tf.tensor2d(rows, [count, dim]);
  const w = tf.tensor1d(weights);
  const c = tf.tensor1d(examples.negativeLogWeights);
  const start = tf.zeros([dim]);
  const u = tf.variable(tf.zeros([dim]));
  const softmax = (v: TfCore.Tensor1D) =>
    tf.tidy(() => {
      const logits = tf.mul(tf.squeeze(tf.matMul(x, tf.reshape(v, [dim, 1]))), options.scale);
      const positive = tf.slice(logits, 0, positives);
      const negative = tf.logSumExp(tf.add(tf.slice(logits, positives, count - positives), c));
      const denominator = tf.logSumExp(tf.stack([positive, tf.broadcastTo(negative, [positives])]), 0);
      return tf.sum(tf.mul(w, tf.sub(denominator, positive))) as TfCore.Scalar;
    });
  const gradient = tf.grad((v: TfCore.Tensor) => softmax(v as TfCore.Tensor1D));
  const shrink = 1 / (1 + 2 * options.learningRate * options.l2);
  const ms: number[] = [];
  for (let i = 0; i < (RUNS + 3) * options.steps; i++) {
    const t = performance.now();
    tf.tidy(() => {
      const moved = tf.sub(u, tf.mul(gradient(u), options.learningRate));
      u.assign(tf.mul(tf.add(moved, tf.mul(start, 2 * options.learningRate * options.l2)), shrink));
    });
    if (i >= 3 * options.steps) ms.push(performance.now() - t);
  }
  for (const t of [x, w, c, start, u]) t.dispose();
  return ms;
}

const before = loadavg();
const closed = await closedForm();
const auto = autodiff();
process.stdout.write(
  `learning step, tfjs ${tf.getBackend()}, ${count} × ${dim} rows; load ${before.map((l) => l.toFixed(2)).join(' ')} → ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n` + `  closed form: ${quantiles(closed)}\n  autodiff:    ${quantiles(auto)}\n`,
);
