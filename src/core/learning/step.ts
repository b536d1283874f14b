import type * as TfCore from '@tensorflow/tfjs-core';
import type { LearningExamples } from './examples.ts';
import type { LearningOptions } from './options.ts';
import { softmaxPart } from './softmax-part.ts';

/** The tfjs namespace the learner runs on: tfjs-core with a backend set (webgpu, wasm or cpu). */
export type Tf = typeof TfCore;

export interface LearnedEmbedding {
  /** The learned user embedding, unit length (the space of the item table it learnt over). */
  vector: Float32Array;
  /** The loss before the first and after the last step (the pull toward the prior included). */
  initialLoss: number;
  loss: number;
  steps: number;
}

/**
 * Learns a user embedding u by full-batch proximal gradient descent from the prior (the server's long-term
 * embedding, or zeros for a user it has not seen) on
 *
 *   L(u) = Σ_p w_p · [log(e^{s·x_p·u} + Σ_n c_n·e^{s·x_n·u}) − s·x_p·u] + λ·‖u − prior‖²
 *
 * — a softmax over each positive and the shared negatives (hidden, shown-and-ignored, sampled with log-Q
 * correction: `negativeLogWeights` = log c_n). L is convex in u and, with λ > 0, strictly so: the steps
 * head for one minimiser whichever backend runs them, which is what makes the backends comparable.
 *
 * `rows` holds the examples' item rows (`examples.items` order), float32 [items × dim]. `onStep` is awaited
 * between steps: the engine yields there so a recommend() never waits for a whole run, only for the step that
 * had begun — which is why a step is the gradient in closed form (below, about a dozen kernels) and not
 * tfjs's autodiff of the loss, several times the kernels (`npx tsx test/bench/learning-step.ts`, 2026-12-06,
 * tfjs wasm in Node, 488 × 64 rows, load 14–15 on 2 cores: p50 0.24 against 1.15 ms a step). Only the loss
 * and the vector are read back, once, at the end.
 */
export async function learnEmbedding(
  tf: Tf,
  examples: LearningExamples,
  rows: Float32Array,
  prior: Float32Array | undefined,
  dim: number,
  options: Pick<LearningOptions, 'learningRate' | 'steps' | 'l2' | 'scale'>,
  onStep: (step: number) => void | Promise<void> = () => {},
): Promise<LearnedEmbedding> {
  const count = examples.items.length;
  const p = examples.positives;
  const x = tf.tensor2d(rows, [count, dim]);
  const w = tf.tensor1d(examples.positiveWeights);
  const c = tf.tensor1d(examples.negativeLogWeights);
  const start = tf.tensor1d(prior ?? new Float32Array(dim));
  const u = tf.variable(start.clone(), true);
  // The softmax part (softmax-part.ts); the pull enters each step in closed form (below).
  const { softmax, gradient } = softmaxPart(tf, x, w, c, p, options.scale);
  const loss = (v: TfCore.Tensor1D): TfCore.Scalar =>
    tf.tidy(
      () => tf.add(softmax(v), tf.mul(tf.sum(tf.square(tf.sub(v, start))), options.l2)) as TfCore.Scalar,
    );
  const shrink = 1 / (1 + 2 * options.learningRate * options.l2);
  try {
    const initial = loss(u);
    const initialLoss = (await initial.data())[0];
    initial.dispose();
    for (let step = 0; step < options.steps; step++) {
      tf.tidy(() => {
        // A proximal step: a gradient step on the softmax, then the pull's exact minimiser
        // (u + 2ηλ·prior) / (1 + 2ηλ) — stable for any λ, where a plain step diverges once 2ηλ > 2.
        const moved = tf.sub(u, tf.mul(gradient(u), options.learningRate));
        u.assign(
          tf.mul(
            tf.add(moved, tf.mul(start, 2 * options.learningRate * options.l2)),
            shrink,
          ) as TfCore.Tensor1D,
        );
      });
      await onStep(step + 1);
    }
    const final = loss(u);
    const [finalLoss, vector] = await Promise.all([final.data(), u.data()]);
    final.dispose();
    return {
      vector: unit(Float32Array.from(vector)),
      initialLoss,
      loss: finalLoss[0],
      steps: options.steps,
    };
  } finally {
    for (const t of [x, w, c, start, u]) t.dispose();
  }
}

function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  if (!(s > 0)) return v;
  const norm = Math.sqrt(s);
  return v.map((x) => x / norm);
}
