import type * as Ort from 'onnxruntime-web';

export type OrtRuntime = typeof Ort;

let runtime: Promise<OrtRuntime> | undefined;

/**
 * onnxruntime-web, loaded once. The `webgpu` build, because it carries ORT's native WebGPU EP: the default
 * build's `webgpu` is the older JSEP one, whose DequantizeLinear is wrong for per-tensor and narrow
 * per-axis int8 (microsoft/onnxruntime#32578) — every int8 ranker would score garbage there. The same
 * build runs the wasm EP. Threads need cross-origin isolation, and ORT wants the count set explicitly.
 */
export function loadOrt(): Promise<OrtRuntime> {
  runtime ??= (async () => {
    const ort = (await import('onnxruntime-web/webgpu')) as unknown as OrtRuntime;
    ort.env.wasm.numThreads = wasmThreads();
    ort.env.logLevel = 'error';
    return ort;
  })();
  return runtime;
}

/** A one-node ONNX graph (IR 8, opset 17: y = Identity(x), float[1]), 65 bytes. */
const IDENTITY_MODEL = [
  8, 8, 58, 55, 10, 16, 10, 1, 120, 18, 1, 121, 34, 8, 73, 100, 101, 110, 116, 105, 116, 121, 18, 1, 103, 90,
  15, 10, 1, 120, 18, 10, 10, 8, 8, 1, 18, 4, 10, 2, 8, 1, 98, 15, 10, 1, 121, 18, 10, 10, 8, 8, 1, 18, 4, 10,
  2, 8, 1, 66, 4, 10, 0, 16, 17,
];

let started: Promise<void> | undefined;

/**
 * Starts onnxruntime-web's runtime now — the module, its WebAssembly compile and its thread pool, which
 * ORT otherwise starts inside the first model's session — by opening a session on a one-node graph, so
 * that a cold start compiles ORT while the bundle downloads. Never rejects: a runtime that cannot start
 * fails again, as an error of the engine's init, when the first model is loaded.
 */
export function startOrt(): Promise<void> {
  started ??= (async () => {
    try {
      const ort = await loadOrt();
      const session = await ort.InferenceSession.create(Uint8Array.from(IDENTITY_MODEL), {
        executionProviders: ['wasm'],
      });
      await session.release();
    } catch {
      // See above.
    }
  })();
  return started;
}

/**
 * Threads ORT's wasm EP runs with: up to 4 where the context is cross-origin isolated (SharedArrayBuffer),
 * else 1 — the SDK works without COOP/COEP, single-threaded.
 */
export function wasmThreads(): number {
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  const isolated = globalThis.crossOriginIsolated === true;
  if (requested !== undefined) return isolated ? requested : 1;
  return isolated ? Math.max(1, Math.min(4, cores)) : 1;
}

let requested: number | undefined;

/**
 * Asks for `threads` ORT wasm threads (the engine's `modelThreads` option). ORT reads the count once, when
 * its runtime starts: a request after the first session of this worker changes nothing and says so.
 */
export function requestOrtThreads(threads: number): boolean {
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`modelThreads must be a positive integer, got ${threads}`);
  if (runtime) return false;
  requested = threads;
  return true;
}
