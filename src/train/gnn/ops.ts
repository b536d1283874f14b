import { tf } from '../tf/backend.ts';

/**
 * `tf.gather(x, indices)` along axis 0 with a gradient that tfjs-wasm can compute. tf's own gradient of
 * gather is UnsortedSegmentSum, which the wasm backend lacks; ScatterNd, which it has, sums the updates of
 * repeated indices, which is the same thing. Use it to gather rows of intermediate activations inside a
 * gradient (tables stay outside the graph, see SparseEmbedding). The forward pass is GatherNd: tfjs-wasm's
 * GatherV2 is ~20× slower (110 ms vs 5 ms for 28k rows of 64).
 */
const gatherWithGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, indices, save] = args as [tf.Tensor, tf.Tensor2D, tf.GradSaveFunc];
  // The forward pass's tensors are disposed before the backward pass runs unless saved.
  save([indices]);
  const shape = x.shape;
  return {
    value: tf.gatherND(x, indices),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [
      tf.scatterND(saved[0], dy as tf.Tensor, shape),
      tf.zerosLike(saved[0]),
    ],
  };
}) as (x: tf.Tensor, indices: tf.Tensor) => tf.Tensor;

export function gatherRows(x: tf.Tensor2D, indices: Int32Array): tf.Tensor2D {
  return gatherWithGradient(x, tf.tensor2d(indices, [indices.length, 1], 'int32')) as tf.Tensor2D;
}

/** Rows scaled to unit L2 norm (a zero row stays zero). */
export function l2Normalize<T extends tf.Tensor>(x: T): T {
  return x.div(x.square().sum(-1, true).add(1e-12).sqrt()) as T;
}

/**
 * `tf.matMul(a, b)` for 2-D tensors whose gradient transposes explicitly: tfjs-wasm's BatchMatMul with a
 * transpose flag, which tf's own gradient uses, runs ~7× slower than a Transpose followed by a plain one.
 */
export const matMul = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, sb.transpose()), tf.matMul(sa.transpose(), dy as tf.Tensor2D)];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * Importance pooling: out[n] = Σ_s weights[n·k + s] · x[slots[n·k + s]] for n < count ([count × width]),
 * with a hand-written gradient (ScatterNd of the weighted upstream rows): tf's own gradient of this chain
 * needs gather's missing kernel, and its Sum gradient builds a ones tensor in JS on every call.
 * Measured at 4.9k × 10 slots of width 64: ~12 ms forward + backward, vs ~35 ms for either the autodiff
 * chain or a JS loop.
 */
export function poolRows(
  x: tf.Tensor2D,
  slots: Int32Array,
  weights: Float32Array,
  count: number,
  k: number,
): tf.Tensor2D {
  const [rows, width] = x.shape;
  const pool = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const indices = tf.tensor2d(slots, [count * k, 1], 'int32');
    const alpha = tf.tensor3d(weights, [count, k, 1]);
    save([indices, alpha]);
    return {
      value: tf.gatherND(input, indices).reshape([count, k, width]).mul(alpha).sum(1),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const spread = (dy as tf.Tensor)
          .reshape([count, 1, width])
          .mul(saved[1])
          .reshape([count * k, width]);
        return tf.scatterND(saved[0], spread, [rows, width]);
      },
    };
  });
  return pool(x) as tf.Tensor2D;
}
