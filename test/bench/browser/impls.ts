/**
 * The retrieval implementations the browser benchmark times, each answering "the k best rows of the
 * item table for this query" with the indices read back into JS. Each one holds its table resident
 * (uploaded, compiled and warmed up at creation, outside the timings) and runs in its own dedicated worker,
 * as the engine does. The peers work over the f32 table, except `ort-wasm-int8` (the bundle's i8 table).
 */
import type * as TfCore from '@tensorflow/tfjs-core';
import type * as OrtWeb from 'onnxruntime-web';
import {
  Bundle,
  type DecodedItemTable,
  httpBundleSource,
  type ItemDtype,
} from '../../../src/core/bundle/index.ts';
import { CpuRetriever } from '../../../src/engine/retrieval/cpu/index.ts';
import { createGpuRetriever } from '../../../src/engine/retrieval/webgpu/index.ts';
import type { CatalogSpec, Impl } from './protocol.ts';

export interface Retrieval {
  topK(query: Float32Array): Promise<Int32Array>;
  dispose(): void | Promise<void>;
  info: Record<string, unknown>;
}

/** Threads a wasm peer may use: all cores, up to 8 (edgerec's own default cap); 1 without isolation. */
export function peerThreads(): number {
  return globalThis.crossOriginIsolated ? Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1)) : 1;
}

/** The thread counts a peer is tried with (the bench keeps its fastest): 1, 2, 4, … and all it may use. */
export function threadCandidates(): number[] {
  const max = peerThreads();
  const out: number[] = [];
  for (let t = 1; t < max; t *= 2) out.push(t);
  out.push(max);
  return out;
}

export async function loadTable(catalog: CatalogSpec, dtype: ItemDtype): Promise<DecodedItemTable> {
  const url = new URL(`${catalog.bundlesUrl}${catalog.version}/`, location.href).href;
  const bundle = await Bundle.open(httpBundleSource(url));
  return bundle.itemTable(dtype);
}

export async function createRetrieval(
  impl: Impl,
  dtype: ItemDtype,
  catalog: CatalogSpec,
  k: number,
  threads = peerThreads(),
): Promise<Retrieval> {
  const peerDtype = impl === 'ort-wasm-int8' ? 'i8' : 'f32';
  if (!impl.startsWith('edgerec-') && dtype !== peerDtype)
    throw new Error(`${impl} runs over the ${peerDtype} table only`);
  switch (impl) {
    case 'edgerec-cpu': {
      const r = await CpuRetriever.create(await loadTable(catalog, dtype), { kernel: 'wasm' });
      return {
        topK: async (q) => (await r.topK(q, k)).indices,
        dispose: () => r.dispose(),
        info: { backend: r.backend, threads: r.threads, flavor: r.flavor },
      };
    }
    case 'edgerec-webgpu':
    case 'edgerec-webgpu-radix':
    case 'edgerec-webgpu-fused': {
      // edgerec-webgpu: the merge pipeline (shaped for SwiftShader); -radix: the one built for hardware GPUs;
      // -fused: radix with the fused score+filter pass (compacting with subgroups where the device has them).
      const pipeline = impl === 'edgerec-webgpu' ? 'merge' : 'radix';
      const select = impl === 'edgerec-webgpu-fused' ? 'fused' : undefined;
      const r = await createGpuRetriever(await loadTable(catalog, dtype), { pipeline, select });
      return {
        topK: async (q) => (await r.topK(q, k)).indices,
        dispose: () => r.dispose(),
        info: {
          pipeline,
          variant: r.variant,
          // fused: which compaction ran (subgroup operations or workgroup atomics).
          ...('compaction' in r && r.compaction ? { compaction: r.compaction } : {}),
          createMs: Math.round(r.createMs),
          // Read when the worker reports ready (after the recall calls): the last call's GPU ms per pass
          // and the score pass's GB/s, where the adapter has timestamp-query.
          get gpu() {
            const t = r.lastTimings;
            return t && 'gpu' in t ? t.gpu : undefined;
          },
        },
      };
    }
    case 'naive-js':
      return naive(await loadTable(catalog, 'f32'), k);
    case 'tfjs-wasm':
    case 'tfjs-webgpu':
      return tfjs(impl, await loadTable(catalog, 'f32'), k, threads);
    case 'ort-wasm':
      return ortTopK('wasm', catalog.ortModelUrls.gemm, catalog.dim, k, threads, 'Gemm transB + TopK');
    case 'ort-wasm-matmul':
      return ortTopK('wasm', catalog.ortModelUrls.matmul, catalog.dim, k, threads, 'MatMul (tableᵀ) + TopK');
    case 'ort-wasm-int8':
      return ortTopK(
        'wasm',
        catalog.ortModelUrls.int8,
        catalog.dim,
        k,
        threads,
        'DynamicQuantizeLinear + MatMulInteger (int8 tableᵀ) + TopK',
      );
    case 'ort-webgpu':
      return ortTopK('webgpu', catalog.ortModelUrls.gemm, catalog.dim, k, threads, 'Gemm transB + TopK');
  }
}

/** What one writes first: every dot product in a plain loop, then sort every row index by score. */
function naive(table: DecodedItemTable, k: number): Retrieval {
  const { count, dim } = table;
  const values = table.values as Float32Array;
  return {
    async topK(q) {
      const scores = new Float32Array(count);
      for (let r = 0; r < count; r++) {
        let s = 0;
        for (let d = 0; d < dim; d++) s += values[r * dim + d] * q[d];
        scores[r] = s;
      }
      const order = Array.from({ length: count }, (_, i) => i);
      order.sort((a, b) => scores[b] - scores[a] || a - b);
      return Int32Array.from(order.slice(0, k));
    },
    dispose() {},
    info: {},
  };
}

/** tf.matMul(query [1 × dim], table [count × dim], transposeB) then tf.topk, reading back values and indices. */
async function tfjs(
  impl: 'tfjs-wasm' | 'tfjs-webgpu',
  table: DecodedItemTable,
  k: number,
  threads: number,
): Promise<Retrieval> {
  const tf: typeof TfCore = await import('@tensorflow/tfjs-core');
  const info: Record<string, unknown> = {};
  if (impl === 'tfjs-wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(new URL('/node_modules/@tensorflow/tfjs-backend-wasm/dist/', location.href).href);
    // tfjs caps its XNNPACK pool at hardwareConcurrency / 2 (1 on a 2-core machine, whatever
    // setThreadsCount says); this worker runs tfjs alone, so tell it twice the threads it is to use.
    if (threads > 1 && Math.floor(navigator.hardwareConcurrency / 2) < threads) {
      Object.defineProperty(Object.getPrototypeOf(navigator), 'hardwareConcurrency', {
        get: () => 2 * threads,
        configurable: true,
      });
      info.hardwareConcurrencyShownToTfjs = 2 * threads;
    }
    wasm.setThreadsCount(threads);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend did not initialise');
    await tf.ready();
    info.threads = wasm.getThreadsCount();
    info.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    info.multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  } else {
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
    await tf.ready();
  }
  info.backend = tf.getBackend();
  const items = tf.tensor2d(table.values as Float32Array, [table.count, table.dim]);
  const run = async (q: Float32Array): Promise<Int32Array> => {
    const { values, indices } = tf.tidy(() => {
      const scores = tf.matMul(tf.tensor2d(q, [1, table.dim]), items, false, true);
      return tf.topk(scores, k, true);
    });
    try {
      const [, idx] = await Promise.all([values.data(), indices.data()]);
      return Int32Array.from(idx as Int32Array);
    } finally {
      values.dispose();
      indices.dispose();
    }
  };
  return {
    topK: run,
    dispose: () => {
      items.dispose();
    },
    info,
  };
}

/** onnxruntime-web (the webgpu build: its native WebGPU EP, and the wasm EP) running one of the peer graphs. */
async function ortTopK(
  ep: 'wasm' | 'webgpu',
  modelUrl: string,
  dim: number,
  k: number,
  threads: number,
  graph: string,
): Promise<Retrieval> {
  const ort = (await import('onnxruntime-web/webgpu')) as unknown as typeof OrtWeb;
  ort.env.wasm.wasmPaths = new URL('/node_modules/onnxruntime-web/dist/', location.href).href;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  const response = await fetch(new URL(modelUrl, location.href));
  if (!response.ok) throw new Error(`${modelUrl}: HTTP ${response.status}`);
  const model = new Uint8Array(await response.arrayBuffer());
  const session = await ort.InferenceSession.create(model, {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
  });
  return {
    async topK(q) {
      const out = await session.run({ query: new ort.Tensor('float32', q, [1, dim]) });
      const values = out.values;
      const indices = out.indices;
      try {
        await values.getData();
        const idx = (await indices.getData()) as BigInt64Array;
        const result = new Int32Array(k);
        for (let i = 0; i < k; i++) result[i] = Number(idx[i]);
        return result;
      } finally {
        values.dispose();
        indices.dispose();
      }
    },
    dispose: () => session.release(),
    info: { ep, threads: ort.env.wasm.numThreads, variant: graph },
  };
}
