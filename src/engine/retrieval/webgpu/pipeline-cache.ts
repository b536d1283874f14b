import { WebGpuUnavailableError } from './errors.ts';

/** Compiled kernels per device, by source: retrievers on one device (a bundle switch, tests, both pipelines) compile once. */
const pipelines = new WeakMap<GPUDevice, Map<string, Promise<GPUComputePipeline>>>();

/** The compute pipeline of `code` on `device`, compiled once; a failed compile is forgotten so it can retry. */
export function cachedPipeline(device: GPUDevice, code: string, label: string): Promise<GPUComputePipeline> {
  let cache = pipelines.get(device);
  if (!cache) {
    cache = new Map();
    pipelines.set(device, cache);
  }
  const byCode = cache;
  let pipeline = cache.get(code);
  if (!pipeline) {
    pipeline = compile(device, code, label);
    cache.set(code, pipeline);
    pipeline.catch(() => byCode.delete(code));
  }
  return pipeline;
}

/** Compiles `code`'s `main`; a WGSL error becomes WebGpuUnavailableError with the compiler's messages. */
async function compile(device: GPUDevice, code: string, label: string): Promise<GPUComputePipeline> {
  const module = device.createShaderModule({ code, label });
  try {
    return await device.createComputePipelineAsync({
      label,
      layout: 'auto',
      compute: { module, entryPoint: 'main' },
    });
  } catch (error) {
    const info = await module.getCompilationInfo();
    const messages = info.messages
      .filter((m) => m.type === 'error')
      .map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
    throw new WebGpuUnavailableError(`${label}: ${messages.join('; ') || String(error)}`, { cause: error });
  }
}
