/** What this browser context offers the engine; the one place that probes, so every caller reports the same. */
export interface Capabilities {
  webgpu:
    | { available: false; reason: string }
    | {
        available: true;
        isFallbackAdapter: boolean;
        vendor: string;
        architecture: string;
        shaderF16: boolean;
        packed4x8DotProduct: boolean;
        maxStorageBufferBindingSize: number;
      };
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
}

export async function detectCapabilities(): Promise<Capabilities> {
  const nav = globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined;
  const common = {
    crossOriginIsolated: Boolean(globalThis.crossOriginIsolated),
    hardwareConcurrency: nav?.hardwareConcurrency ?? 1,
  };
  if (!nav?.gpu) return { webgpu: { available: false, reason: 'navigator.gpu is missing' }, ...common };
  const adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { webgpu: { available: false, reason: 'no WebGPU adapter' }, ...common };
  const info = adapter.info;
  return {
    webgpu: {
      available: true,
      isFallbackAdapter: info.isFallbackAdapter ?? false,
      vendor: info.vendor,
      architecture: info.architecture,
      shaderF16: adapter.features.has('shader-f16'),
      packed4x8DotProduct: nav.gpu.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? false,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    },
    ...common,
  };
}
