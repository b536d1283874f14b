/**
 * The quantization lab inside a worker: the shared driver (`src/core/lab/run.ts`) on onnxruntime-web
 * (`wasm` or the native `webgpu` EP) and the engine's retrieval kernels (WebGPU, or the WASM SIMD kernel
 * on worker threads), over a bundle and its eval pack fetched from `bundleUrl`.
 */
import {
  Bundle,
  type BundleSource,
  type ExecutionProvider,
  httpBundleSource,
} from '../../core/bundle/index.ts';
import {
  type EvalPack,
  type LabBrowserResult,
  type LabEnvironment,
  type LabRequest,
  type LabRuntime,
  type LabWorkerProgress,
  loadEvalPack,
  runLab,
} from '../../core/lab/index.ts';
import { locateBundle } from '../bundle-location.ts';
import { ModelSession } from '../models/session.ts';
import { loadOrt } from '../onnx-runtime.ts';
import { FallbackRetriever } from '../retrieval/select.ts';

export const browserLabRuntime: LabRuntime = {
  name: 'browser',
  async session(entry, bytes, device) {
    const session = await ModelSession.create(entry, bytes, device as ExecutionProvider);
    return { run: (feeds, output) => session.run(feeds, output), release: () => session.dispose() };
  },
  async retriever(table, device) {
    const retriever = await FallbackRetriever.create(table, device === 'webgpu' ? 'webgpu' : 'wasm');
    return {
      get backend() {
        return retriever.backend;
      },
      topK: (query, k) => retriever.topK(query, k),
      dispose: () => retriever.dispose(),
    };
  },
  supports: (entry, device) => entry.providers.includes(device as ExecutionProvider),
  now: () => performance.now(),
};

export async function labEnvironment(): Promise<LabEnvironment> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
  let webgpu: LabEnvironment['webgpu'] = { available: false, description: 'navigator.gpu is missing' };
  if (gpu) {
    try {
      const adapter = await gpu.requestAdapter();
      webgpu = adapter
        ? {
            available: true,
            description:
              [adapter.info?.vendor, adapter.info?.architecture, adapter.info?.description]
                .filter(Boolean)
                .join(' ') || 'adapter',
            fallback: adapter.info?.isFallbackAdapter === true,
          }
        : { available: false, description: 'no adapter' };
    } catch (error) {
      webgpu = { available: false, description: error instanceof Error ? error.message : String(error) };
    }
  }
  const ort = await loadOrt('webgpu');
  return {
    userAgent: globalThis.navigator?.userAgent ?? '',
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    hardwareConcurrency: globalThis.navigator?.hardwareConcurrency ?? 1,
    webgpu,
    ortThreads: Number(ort.env.wasm.numThreads ?? 1),
  };
}

/** Loads the pack from the bundle's folder, else from `/models/<version>/` (a registry serves no lab files). */
async function packFrom(
  network: BundleSource,
  version: string,
  split: LabRequest['split'],
): Promise<{ pack: EvalPack; url: string }> {
  try {
    return { pack: (await loadEvalPack(network, split)).pack, url: `${network.describe()}lab/` };
  } catch (first) {
    const fallback = new URL(`/models/${version}/`, globalThis.location.href).href;
    if (fallback === network.describe()) throw first;
    try {
      const source = httpBundleSource(fallback);
      return { pack: (await loadEvalPack(source, split)).pack, url: `${fallback}lab/` };
    } catch {
      throw first;
    }
  }
}

export async function runLabInWorker(
  request: LabRequest,
  /** The worker relays these so that the result never overtakes them (src/engine/progress-relay.ts). */
  onProgress: (p: LabWorkerProgress) => void,
): Promise<LabBrowserResult> {
  onProgress({ phase: 'bundle', done: 0, total: 1, label: 'manifest' });
  const location = await locateBundle(request.bundleUrl);
  if (!location) throw new Error(`could not reach ${request.bundleUrl}`);
  const bundle = await Bundle.open(location.network);
  onProgress({ phase: 'pack', done: 0, total: 1, label: `${request.split} eval pack` });
  const { pack, url } = await packFrom(location.network, location.version, request.split);
  const environment = await labEnvironment();
  const result = await runLab(
    bundle,
    pack,
    browserLabRuntime,
    {
      items: request.items,
      rankers: request.rankers,
      devices: request.devices,
      runs: request.runs,
      role: request.role,
      rankerFiles: (request.rankerFiles ?? []).map((f) => ({ name: f.name, bytes: new Uint8Array(f.bytes) })),
    },
    (p) => {
      onProgress({ ...p, phase: 'run' });
    },
  );
  return { ...result, environment, bundleUrl: location.baseUrl, packUrl: url };
}
