import { tf } from '../tf/backend.ts';

/** Added to the score of a padding position: its softmax weight underflows to exactly 0. */
export const MASKED_SCORE = -1e9;

/**
 * Target attention (DIN-style): one query per row (the candidate item) over that row's L tokens (the
 * user's newest actions). scores = q·k / √width, padding masked, softmax over L, output = Σ weight · value.
 * query [B, width], keys and values [B, L, width], mask [B, L] (1 real, 0 padding) → [B, width]. A row
 * with no real token attends uniformly to its padding, whose values are zero, so its output is zero.
 * The ONNX exporter (export.ts) writes the same ops in the same order.
 */
export function targetAttention(
  query: tf.Tensor2D,
  keys: tf.Tensor3D,
  values: tf.Tensor3D,
  mask: tf.Tensor2D,
): tf.Tensor2D {
  const width = query.shape[1];
  const scores = tf
    .sum(query.expandDims(1).mul(keys), 2)
    .mul(1 / Math.sqrt(width))
    .add(mask.sub(1).mul(-MASKED_SCORE));
  const weights = tf.softmax(scores, -1);
  return tf.sum(weights.expandDims(2).mul(values), 1) as tf.Tensor2D;
}
