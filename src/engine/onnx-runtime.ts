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
