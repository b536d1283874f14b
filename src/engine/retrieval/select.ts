import type { DecodedItemTable } from '../../core/bundle/index.ts';
import { itemRows, type TopKResult } from '../../core/retrieval/index.ts';
import type { Backend, DeviceChoice } from '../types.ts';
import { CpuRetriever } from './cpu/index.ts';
// create.ts, not the folder's index: the index re-exports both pipelines, which load on demand.
import { createGpuRetriever, type GpuRetriever } from './webgpu/create.ts';

export interface Retriever {
  readonly backend: Backend;
  /** WebGPU only: destroys the device (see WebGpuRetriever.loseDevice). */
  loseDevice?(): void;
  topK(query: Float32Array, k: number, exclude?: Uint32Array): Promise<TopKResult>;
  /**
   * `topK` of each query with one exclusion set, answers in query order. On WebGPU the queries share one
   * read of the table (multi-interest retrieval asks for several at once); elsewhere they run in turn.
   */
  topKBatch?(queries: Float32Array[], k: number, exclude?: Uint32Array): Promise<TopKResult[]>;
  dispose(): void;
}

/** Options of the CPU kernel a FallbackRetriever runs on (or falls back to). */
export interface CpuOptions {
  kernel: 'wasm' | 'js';
  /** Threads of the wasm kernel (default: by table size, see CpuRetrieverOptions). */
  threads?: number;
}

/**
 * Retrieval that survives losing its GPU: it starts on WebGPU when asked (or on `auto` when an adapter is
 * there) and, when the device is lost or a GPU call fails, moves to the CPU kernel for good and answers
 * the same call there. Only `backend` (and `lastFallback`) tell the caller. Once disposed it never falls
 * back: disposing destroys the GPU device, which reports itself lost, and a CPU retriever (with its
 * worker threads) built then would belong to nobody.
 */
export class FallbackRetriever implements Retriever {
  private current: Retriever;
  private pending?: Promise<void>;
  private disposed = false;
  lastFallback?: string;
  /** `auto` on a hardware adapter: median ms of a top-k call on each backend at init, the faster kept. */
  timings?: Partial<Record<Backend, number>>;

  private constructor(
    current: Retriever,
    private readonly table: DecodedItemTable,
    private readonly cpu: CpuOptions,
  ) {
    this.current = current;
  }

  get backend(): Backend {
    return this.current.backend;
  }

  static async create(
    table: DecodedItemTable,
    device: DeviceChoice = 'auto',
    threads?: number,
    /** Time both backends under `auto` even on a software adapter (tests: SwiftShader is the only one). */
    { timeSoftwareAdapter = false }: { timeSoftwareAdapter?: boolean } = {},
  ): Promise<FallbackRetriever> {
    const cpuKernel: CpuOptions = { kernel: device === 'js' ? 'js' : 'wasm', threads };
    if (device === 'auto' && !timeSoftwareAdapter && (await softwareAdapter())) {
      // A software adapter (SwiftShader) runs WGSL on the same CPU cores, several times slower than the
      // WASM SIMD kernel; `auto` means the fastest exact path, so it takes the CPU. `webgpu` still forces it.
      const retriever = new FallbackRetriever(await createCpu(table, cpuKernel), table, cpuKernel);
      retriever.lastFallback = 'the WebGPU adapter is a software fallback: retrieval runs on the CPU kernel';
      return retriever;
    }
    if (device === 'webgpu' || device === 'auto') {
      let gpu: GpuRetriever;
      try {
        gpu = await createGpuRetriever(table);
      } catch (error) {
        const retriever = new FallbackRetriever(await createCpu(table, cpuKernel), table, cpuKernel);
        retriever.lastFallback = `WebGPU unavailable: ${error instanceof Error ? error.message : String(error)}`;
        return retriever;
      }
      return device === 'auto'
        ? FallbackRetriever.faster(gpu, table, cpuKernel)
        : FallbackRetriever.onGpu(gpu, table, cpuKernel);
    }
    return new FallbackRetriever(await createCpu(table, cpuKernel), table, cpuKernel);
  }

  /**
   * A small catalog on a fast CPU beats any GPU round trip, a large one on a real GPU the reverse: time
   * both on this catalog and keep the faster (both are exact, so only the speed differs).
   */
  private static async faster(
    gpu: GpuRetriever,
    table: DecodedItemTable,
    cpuKernel: CpuOptions,
  ): Promise<FallbackRetriever> {
    const cpu = await createCpu(table, cpuKernel).catch((error: unknown) => {
      gpu.dispose();
      throw error;
    });
    const timings: Partial<Record<Backend, number>> = {};
    try {
      timings.webgpu = await medianTopKMs(wrapGpu(gpu), table);
    } catch (error) {
      gpu.dispose();
      const retriever = new FallbackRetriever(cpu, table, cpuKernel);
      retriever.lastFallback = `WebGPU retrieval failed when timed at start: ${error instanceof Error ? error.message : String(error)}`;
      return retriever;
    }
    timings[cpu.backend] = await medianTopKMs(cpu, table);
    const gpuWins = timings.webgpu <= timings[cpu.backend]!;
    (gpuWins ? cpu : wrapGpu(gpu)).dispose();
    const retriever = gpuWins
      ? FallbackRetriever.onGpu(gpu, table, cpuKernel)
      : new FallbackRetriever(cpu, table, cpuKernel);
    retriever.timings = timings;
    return retriever;
  }

  private static onGpu(gpu: GpuRetriever, table: DecodedItemTable, cpu: CpuOptions): FallbackRetriever {
    const retriever = new FallbackRetriever(wrapGpu(gpu), table, cpu);
    gpu.lost.then((info) => retriever.fallBack(`WebGPU device lost (${info.reason}): ${info.message}`));
    return retriever;
  }

  private fallBack(reason: string): Promise<void> {
    if (this.disposed || this.current.backend !== 'webgpu') return Promise.resolve();
    this.pending ??= (async () => {
      this.lastFallback = reason;
      const old = this.current;
      const cpu = await createCpu(this.table, this.cpu);
      // Disposed while the CPU kernel was being built: it goes at once, with the GPU one.
      if (this.disposed) cpu.dispose();
      else this.current = cpu;
      try {
        old.dispose();
      } catch {
        // A lost device may refuse to destroy its buffers; they went with it anyway.
      }
    })();
    return this.pending;
  }

  async topK(query: Float32Array, k: number, exclude?: Uint32Array): Promise<TopKResult> {
    if (this.disposed) throw new Error('edgerec: retrieval used after dispose()');
    if (this.pending) await this.pending;
    if (this.current.backend !== 'webgpu') return this.current.topK(query, k, exclude);
    try {
      return await this.current.topK(query, k, exclude);
    } catch (error) {
      await this.fallBack(
        `WebGPU retrieval failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return this.current.topK(query, k, exclude);
    }
  }

  async topKBatch(queries: Float32Array[], k: number, exclude?: Uint32Array): Promise<TopKResult[]> {
    if (this.disposed) throw new Error('edgerec: retrieval used after dispose()');
    if (this.pending) await this.pending;
    const inTurn = async () => {
      const results: TopKResult[] = [];
      for (const query of queries) results.push(await this.current.topK(query, k, exclude));
      return results;
    };
    const batch = this.current.topKBatch;
    if (this.current.backend !== 'webgpu' || !batch) return inTurn();
    try {
      return await batch.call(this.current, queries, k, exclude);
    } catch (error) {
      await this.fallBack(
        `WebGPU retrieval failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      return inTurn();
    }
  }

  /** Destroys the GPU device under the engine's feet; true when there was one. The next call falls back. */
  simulateDeviceLoss(): boolean {
    if (!this.current.loseDevice) return false;
    this.current.loseDevice();
    return true;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // A fallback under way disposes what it built itself (see fallBack).
    this.current.dispose();
  }
}

/** Calls timed per backend at start, after as many untimed ones (pipelines compile, threads start). */
const TIMED_CALLS = 5;

/** Median ms of a top-k call (k = 200, as the feed asks) with queries made of the table's own rows. */
async function medianTopKMs(retriever: Retriever, table: DecodedItemTable): Promise<number> {
  const k = Math.min(200, table.count);
  const ms: number[] = [];
  for (let call = 0; call < 2 * TIMED_CALLS; call++) {
    const item = Math.floor(((call + 0.5) / (2 * TIMED_CALLS)) * table.count);
    const query = itemRows(table, [item]);
    const started = performance.now();
    await retriever.topK(query, k);
    if (call >= TIMED_CALLS) ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

async function softwareAdapter(): Promise<boolean> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return false;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  return adapter?.info?.isFallbackAdapter === true;
}

function wrapGpu(gpu: GpuRetriever): Retriever {
  return {
    backend: 'webgpu',
    topK: (q, k, e) => gpu.topK(q, k, e),
    topKBatch: (queries, k, e) => gpu.topKBatch(queries, k, e ? queries.map(() => e) : undefined),
    dispose: () => gpu.dispose(),
    loseDevice: () => gpu.loseDevice(),
  };
}

async function createCpu(table: DecodedItemTable, options: CpuOptions): Promise<Retriever> {
  try {
    return await CpuRetriever.create(table, options);
  } catch (error) {
    if (options.kernel === 'js') throw error;
    return CpuRetriever.create(table, { kernel: 'js' });
  }
}
