import * as ort from 'onnxruntime-node';
import type { Feeds } from './feeds.ts';

export type Outputs = Record<string, Float32Array | BigInt64Array>;

/**
 * Offline metrics and parity references must be the numbers a browser computes, and onnxruntime-node's
 * defaults give others:
 * - its optimisation fuses DequantizeLinear → MatMul into MatMulNBits with accuracy level 4, which also
 *   quantizes the activations to int8 and moves int8-dq outputs by ~3e-2; level 0 keeps them float;
 * - at the `extended` level it fuses QDQ groups into x86 integer kernels whose u8·s8 products saturate on
 *   CPUs without VNNI, so int8-qdq outputs depend on the machine (0.4 apart on one EPYC here). `basic`
 *   keeps the graph as onnxruntime-web's wasm and webgpu EPs run it.
 */
export const NODE_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'basic',
  extra: { session: { qdq_matmulnbits_accuracy_level: '0' } },
};

export function createSession(model: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, NODE_SESSION_OPTIONS);
}

function toOrt(feeds: Feeds): Record<string, ort.Tensor> {
  const tensors: Record<string, ort.Tensor> = {};
  for (const [name, { data, dims }] of Object.entries(feeds))
    tensors[name] =
      data instanceof Float32Array
        ? new ort.Tensor('float32', data, dims)
        : new ort.Tensor('int64', data, dims);
  return tensors;
}

/** Runs one feed set and copies the requested outputs (all by default) out of ORT's tensors. */
export async function runOnce(
  session: ort.InferenceSession,
  feeds: Feeds,
  outputs?: readonly string[],
): Promise<Outputs> {
  const results = outputs ? await session.run(toOrt(feeds), [...outputs]) : await session.run(toOrt(feeds));
  const copied: Outputs = {};
  for (const [name, tensor] of Object.entries(results)) {
    const data = tensor.data;
    if (data instanceof Float32Array || data instanceof BigInt64Array) copied[name] = data.slice();
    else throw new Error(`output ${name} is ${tensor.type}; only float32 and int64 outputs are compared`);
    tensor.dispose();
  }
  return copied;
}

/** Runs a model over every feed set, in order. */
export async function runModel(model: Uint8Array, feeds: Feeds[]): Promise<Outputs[]> {
  const session = await createSession(model);
  try {
    const results: Outputs[] = [];
    for (const feed of feeds) results.push(await runOnce(session, feed));
    return results;
  } finally {
    await session.release();
  }
}

/** The largest |a − b| over every output and every run. */
export function maxAbsDiff(a: Outputs[], b: Outputs[]): number {
  let max = 0;
  a.forEach((outputs, run) => {
    for (const [name, values] of Object.entries(outputs)) {
      const other = b[run]?.[name];
      if (!other || other.length !== values.length) throw new Error(`output ${name} differs in shape`);
      for (let i = 0; i < values.length; i++)
        max = Math.max(max, Math.abs(Number(values[i]) - Number(other[i])));
    }
  });
  return max;
}
