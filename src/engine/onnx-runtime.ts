import type * as Ort from 'onnxruntime-web';

export type OrtRuntime = typeof Ort;

/**
 * Which onnxruntime-web build a worker loads:
 * - `wasm` (`onnxruntime-web/wasm`, a 14 MB module): the wasm EP alone. What the engine loads when its
 *   models can only run on the wasm EP (retrieval on the CPU, so no WebGPU device to share).
 * - `webgpu` (`onnxruntime-web/webgpu`, 27 MB): ORT's native WebGPU EP beside the wasm EP, an asyncify
 *   build. The default build's `webgpu` is the older JSEP one, whose DequantizeLinear is wrong for
 *   per-tensor and narrow per-axis int8 (microsoft/onnxruntime#32578) — every int8 ranker would score
 *   garbage there.
 * Why not always `webgpu`: V8 compiles a module's hot functions again, optimised, in the background for
 * the first half-minute or so, and asyncify's rewritten functions made that ~34 s of CPU against ~6.5 s
 * for the plain build; on two cores that compile competed with every request (a Chrome trace of
 * `npm run bench:browser -- --catalogs 100000 --stages recommend --dtypes i8 --learning off,records
 * --trace t.json`, 2026-12-07: recommend() p50 18–22 ms and p99 52–89 ms in the first 200 calls with the
 * webgpu build, 6.7–7.7 / 23–33 ms with the wasm build; ready in 2.9–5.1 s against 6.2–7.9 s).
 */
export type OrtBuild = 'wasm' | 'webgpu';

let runtime: { build: OrtBuild; ort: Promise<OrtRuntime> } | undefined;

/**
 * onnxruntime-web, loaded once per worker: the first call's `build` decides, and later calls get that one
 * whatever they ask (`loadedOrtBuild` says which). Threads need cross-origin isolation, and ORT wants the
 * count set explicitly.
 */
export function loadOrt(build: OrtBuild = 'webgpu'): Promise<OrtRuntime> {
  runtime ??= {
    build,
    ort: (async () => {
      const ort = (build === 'wasm'
        ? await import('onnxruntime-web/wasm')
        : await import('onnxruntime-web/webgpu')) as unknown as OrtRuntime;
      ort.env.wasm.numThreads = wasmThreads();
      ort.env.logLevel = 'error';
      return ort;
    })(),
  };
  return runtime.ort;
}

/** The build this worker loaded, or undefined before the first loadOrt. */
export function loadedOrtBuild(): OrtBuild | undefined {
  return runtime?.build;
}

/**
 * Threads ORT's wasm EP runs with where the context is cross-origin isolated (SharedArrayBuffer): one core
 * fewer than the device has, from 1 to 4 — the retrieval kernel's threads and the page need the other.
 * Else 1: the SDK works without COOP/COEP, single-threaded. On a 2-core machine near idle, one ORT thread
 * gave recommend() at 100,000 items (i8) a p50 of 12.6 ms and p99 of 39 ms against 19.8 / 55 ms with two
 * (medians of six runs of `npm run -s bench:browser -- --catalogs 100000 --stages recommend --impls
 * edgerec-cpu`, 2026-12-06, load 2.9–4.8); devices with more cores are not measured yet.
 */
export function wasmThreads(): number {
  const isolated = globalThis.crossOriginIsolated === true;
  if (requested !== undefined) return isolated ? requested : 1;
  return isolated ? defaultOrtThreads(globalThis.navigator?.hardwareConcurrency ?? 1) : 1;
}

/** ORT's wasm threads by default on a cross-origin isolated device with `cores` cores (see wasmThreads). */
export function defaultOrtThreads(cores: number): number {
  return Math.max(1, Math.min(4, cores - 1));
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
