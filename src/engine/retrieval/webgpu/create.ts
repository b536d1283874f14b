import type { DecodedItemTable } from '../../../core/bundle/index.ts';
import type { TopKResult } from '../../../core/retrieval/index.ts';
import { WebGpuUnavailableError } from './errors.ts';
import type { RadixRetrieverOptions, RadixTimings } from './radix-retriever.ts';
import type { RetrievalTimings, WebGpuRetrieverOptions } from './retriever.ts';
import type { ScanVariant } from './shaders.ts';

/**
 * The two exact GPU pipelines: `radix` (blocked table, radix select, sparse exclusions, a readback ring,
 * batched queries; built for hardware GPUs) and `merge` (one invocation a row and a merge tree; shaped for
 * SwiftShader, where it is the faster one).
 */
export type GpuPipeline = 'radix' | 'merge';

/** What the engine uses of either pipeline. */
export interface GpuRetriever {
  readonly pipeline: GpuPipeline;
  readonly variant: ScanVariant;
  readonly maxK: number;
  readonly createMs: number;
  readonly lost: Promise<GPUDeviceLostInfo>;
  /** The last call's timings; the radix pipeline's carry per-pass GPU times where `timestamp-query` exists. */
  readonly lastTimings?: RetrievalTimings | RadixTimings;
  topK(query: Float32Array, k: number, exclude?: Uint32Array): Promise<TopKResult>;
  topKBatch(
    queries: Float32Array[],
    k: number,
    excludes?: (Uint32Array | undefined)[],
  ): Promise<TopKResult[]>;
  loseDevice(): void;
  dispose(): void;
}

export interface GpuRetrieverOptions extends WebGpuRetrieverOptions, RadixRetrieverOptions {
  /**
   * Which pipeline (default: `radix` on a hardware adapter, `merge` on a software one such as SwiftShader;
   * `radix` wherever `select: 'fused'` is asked, a mode only radix has).
   */
  pipeline?: GpuPipeline;
}

/**
 * An exact GPU retriever over `table` on the chosen pipeline. Throws WebGpuUnavailableError when WebGPU
 * cannot run it (the caller falls back to the CPU).
 */
export async function createGpuRetriever(
  table: DecodedItemTable,
  options: GpuRetrieverOptions = {},
): Promise<GpuRetriever> {
  let pipeline = options.pipeline ?? (options.select === 'fused' ? 'radix' : undefined);
  let adapter = options.adapter;
  if (!pipeline) {
    if (options.device) {
      pipeline = options.device.adapterInfo?.isFallbackAdapter ? 'merge' : 'radix';
    } else {
      const gpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
      if (!gpu && !adapter) throw new WebGpuUnavailableError('navigator.gpu is missing');
      try {
        adapter ??= (await gpu!.requestAdapter({ powerPreference: 'high-performance' })) ?? undefined;
      } catch (error) {
        throw new WebGpuUnavailableError(`requestAdapter failed: ${String(error)}`, { cause: error });
      }
      if (!adapter) throw new WebGpuUnavailableError('no WebGPU adapter');
      pipeline = adapter.info?.isFallbackAdapter ? 'merge' : 'radix';
    }
  }
  const resolved = { ...options, adapter };
  // Each pipeline is its own chunk, loaded once chosen: a device takes one, a CPU-only one neither, and
  // the worker's start-up JS carries none of their shaders.
  if (pipeline === 'radix') {
    const { RadixGpuRetriever } = await import('./radix-retriever.ts');
    return RadixGpuRetriever.create(table, resolved);
  }
  const { WebGpuRetriever } = await import('./retriever.ts');
  return WebGpuRetriever.create(table, resolved);
}
