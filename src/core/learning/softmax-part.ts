import type * as TfCore from '@tensorflow/tfjs-core';

/**
 * The softmax part of the learner's loss (step.ts) over the examples' rows `x` [count × dim] — the first
 * `positives` rows are positives with weights `w`, the rest negatives with log-weights `c` —
 *
 *   S(u) = Σ_p w_p · [log(e^{z_p} + Σ_n c_n·e^{z_n}) − z_p],  z = scale·X·u,
 *
 * and its gradient in closed form: a step runs between recommend() calls, so it is about a dozen kernels
 * rather than tfjs's autodiff of S, several times that (test/bench/learning-step.ts). A unit test holds the
 * closed form to autodiff.
 */
export function softmaxPart(
  tf: typeof TfCore,
  x: TfCore.Tensor2D,
  w: TfCore.Tensor1D,
  c: TfCore.Tensor1D,
  positives: number,
  scale: number,
): {
  softmax: (v: TfCore.Tensor1D) => TfCore.Scalar;
  gradient: (v: TfCore.Tensor1D) => TfCore.Tensor1D;
} {
  const [count, dim] = x.shape;
  const p = positives;
  const logitsOf = (v: TfCore.Tensor1D) =>
    tf.mul(tf.reshape(tf.matMul(x, tf.reshape(v, [dim, 1])), [count]), scale) as TfCore.Tensor1D;
  const softmax = (v: TfCore.Tensor1D): TfCore.Scalar =>
    tf.tidy(() => {
      const logits = logitsOf(v);
      const positive = tf.slice(logits, 0, p);
      // log Σ_n c_n e^{logit_n}, shared by every positive.
      const negative = tf.logSumExp(tf.add(tf.slice(logits, p, count - p), c));
      const denominator = tf.logSumExp(tf.stack([positive, tf.broadcastTo(negative, [p])]), 0);
      return tf.sum(tf.mul(w, tf.sub(denominator, positive))) as TfCore.Scalar;
    });
  // ∂S/∂z: w_p·(σ_p − 1) for a positive, with σ_p = e^{z_p}/(e^{z_p} + Σ_n c_n e^{z_n}) = sigmoid(z_p − L),
  // L = log Σ_n c_n e^{z_n}; β·softmax_n(z_n + log c_n) for a negative, β = Σ_p w_p·(1 − σ_p). Then
  // ∇_u = scale·Xᵀ·g. With no negative, S is 0 for any u.
  const gradient = (v: TfCore.Tensor1D): TfCore.Tensor1D =>
    tf.tidy(() => {
      if (count === p) return tf.zerosLike(v);
      const logits = logitsOf(v);
      const negative = tf.add(tf.slice(logits, p, count - p), c);
      const sigma = tf.sigmoid(tf.sub(tf.slice(logits, 0, p), tf.logSumExp(negative)));
      const positive = tf.mul(w, tf.sub(sigma, 1));
      const g = tf.concat([positive, tf.mul(tf.softmax(negative), tf.neg(tf.sum(positive)))]);
      return tf.mul(tf.reshape(tf.matMul(tf.reshape(g, [1, count]), x), [dim]), scale) as TfCore.Tensor1D;
    });
  return { softmax, gradient };
}
