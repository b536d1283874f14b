import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<typeof tf> | undefined;

/**
 * Selects tfjs's WASM backend (SIMD kernels) for training in Node: @tensorflow/tfjs-node cannot install here
 * and the pure-JS `cpu` backend is two orders of magnitude slower. Idempotent.
 */
export function initTraining(): Promise<typeof tf> {
  ready ??= (async () => {
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialise');
    await tf.ready();
    return tf;
  })();
  return ready;
}

export { tf };
