import type { DecodedItemTable } from '../../core/bundle/index.ts';
import type { TopKResult } from '../../core/retrieval/index.ts';
import type { Backend, DeviceChoice } from '../types.ts';
import { CpuRetriever } from './cpu/index.ts';
import { WebGpuRetriever } from './webgpu/index.ts';

export interface Retriever {
  readonly backend: Backend;
  /** WebGPU only: destroys the device (see WebGpuRetriever.loseDevice). */
  loseDevice?(): void;
  topK(query: Float32Array, k: number, exclude?: Uint32Array): Promise<TopKResult>;
  dispose(): void;
}

/**
 * Retrieval that survives losing its GPU: it starts on WebGPU when asked (or on `auto` when an adapter is
 * there) and, when the device is lost or a GPU call fails, moves to the CPU kernel for good and answers
 * the same call there. Only `backend` (and `lastFallback`) tell the caller.
 */
export class FallbackRetriever implements Retriever {
  private current: Retriever;
  private pending?: Promise<void>;
  lastFallback?: string;

  private constructor(
    current: Retriever,
    private readonly table: DecodedItemTable,
    private readonly cpuKernel: 'wasm' | 'js',
  ) {
    this.current = current;
  }

  get backend(): Backend {
    return this.current.backend;
  }

  static async create(table: DecodedItemTable, device: DeviceChoice = 'auto'): Promise<FallbackRetriever> {
    const cpuKernel = device === 'js' ? 'js' : 'wasm';
    if (device === 'auto' && (await softwareAdapter())) {
      // A software adapter (SwiftShader) runs WGSL on the same CPU cores, several times slower than the
      // WASM SIMD kernel; `auto` means the fastest exact path, so it takes the CPU. `webgpu` still forces it.
      const retriever = new FallbackRetriever(await createCpu(table, cpuKernel), table, cpuKernel);
      retriever.lastFallback = 'the WebGPU adapter is a software fallback: retrieval runs on the CPU kernel';
      return retriever;
    }
    if (device === 'webgpu' || device === 'auto') {
      try {
        const gpu = await WebGpuRetriever.create(table);
        const retriever = new FallbackRetriever(wrapGpu(gpu), table, cpuKernel);
        gpu.lost.then((info) => retriever.fallBack(`WebGPU device lost (${info.reason}): ${info.message}`));
        return retriever;
      } catch (error) {
        const retriever = new FallbackRetriever(await createCpu(table, cpuKernel), table, cpuKernel);
        retriever.lastFallback = `WebGPU unavailable: ${error instanceof Error ? error.message : String(error)}`;
        return retriever;
      }
    }
    return new FallbackRetriever(await createCpu(table, cpuKernel), table, cpuKernel);
  }

  private fallBack(reason: string): Promise<void> {
    if (this.current.backend !== 'webgpu') return Promise.resolve();
    this.pending ??= (async () => {
      this.lastFallback = reason;
      const old = this.current;
      this.current = await createCpu(this.table, this.cpuKernel);
      try {
        old.dispose();
      } catch {
        // A lost device may refuse to destroy its buffers; they went with it anyway.
      }
    })();
    return this.pending;
  }

  async topK(query: Float32Array, k: number, exclude?: Uint32Array): Promise<TopKResult> {
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

  /** Destroys the GPU device under the engine's feet; true when there was one. The next call falls back. */
  simulateDeviceLoss(): boolean {
    if (!this.current.loseDevice) return false;
    this.current.loseDevice();
    return true;
  }

  dispose(): void {
    this.current.dispose();
  }
}

async function softwareAdapter(): Promise<boolean> {
  const gpu = (globalThis.navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return false;
  const adapter = await gpu.requestAdapter();
  return adapter?.info?.isFallbackAdapter === true;
}

function wrapGpu(gpu: WebGpuRetriever): Retriever {
  return {
    backend: 'webgpu',
    topK: (q, k, e) => gpu.topK(q, k, e),
    dispose: () => gpu.dispose(),
    loseDevice: () => gpu.loseDevice(),
  };
}

async function createCpu(table: DecodedItemTable, kernel: 'wasm' | 'js'): Promise<Retriever> {
  try {
    return await CpuRetriever.create(table, { kernel });
  } catch (error) {
    if (kernel === 'js') throw error;
    return CpuRetriever.create(table, { kernel: 'js' });
  }
}
