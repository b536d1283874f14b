/**
 * The GPUDevice a retriever runs on, for both pipelines: the caller's (checked against what the kernels
 * need) or a new one from the adapter (`powerPreference: 'high-performance'`), asking only for the limits
 * and optional features the kernels use.
 */
import { WebGpuUnavailableError } from './errors.ts';

type LimitName = {
  [K in keyof GPUSupportedLimits]-?: GPUSupportedLimits[K] extends number ? K : never;
}[keyof GPUSupportedLimits];

export interface DeviceNeeds {
  /** The least each limit must be: an adapter or a given device with less is refused, naming the limit. */
  minimum: Partial<Record<LimitName, number>>;
  /** Limits to ask a new device for (each capped at the adapter's, never below its minimum). */
  request: Partial<Record<LimitName, number>>;
  /** Features to ask for where the adapter has them (e.g. `timestamp-query`). */
  optionalFeatures?: GPUFeatureName[];
}

export interface DeviceSource {
  /** Run on this device (not destroyed with the retriever). */
  device?: GPUDevice;
  /** Request the device from this adapter (default: `navigator.gpu`'s high-performance one). */
  adapter?: GPUAdapter;
}

export async function acquireDevice(
  source: DeviceSource,
  needs: DeviceNeeds,
): Promise<{ device: GPUDevice; ownsDevice: boolean }> {
  const lacking = (limits: GPUSupportedLimits): string[] =>
    Object.entries(needs.minimum).flatMap(([name, least]) => {
      const have = limits[name as LimitName];
      return have < least! ? [`${name} ${have} < ${least}`] : [];
    });
  if (source.device) {
    const missing = lacking(source.device.limits);
    if (missing.length) throw new WebGpuUnavailableError(`the given GPUDevice lacks ${missing.join(', ')}`);
    return { device: source.device, ownsDevice: false };
  }
  const gpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
  if (!gpu && !source.adapter) throw new WebGpuUnavailableError('navigator.gpu is missing');
  let adapter: GPUAdapter | null;
  try {
    adapter = source.adapter ?? (await gpu!.requestAdapter({ powerPreference: 'high-performance' }));
  } catch (error) {
    throw new WebGpuUnavailableError(`requestAdapter failed: ${String(error)}`, { cause: error });
  }
  if (!adapter) throw new WebGpuUnavailableError('no WebGPU adapter');
  const missing = lacking(adapter.limits);
  if (missing.length) throw new WebGpuUnavailableError(`the WebGPU adapter lacks ${missing.join(', ')}`);
  const requiredLimits: Record<string, number> = {};
  for (const [name, wanted] of Object.entries(needs.request)) {
    const limit = name as LimitName;
    requiredLimits[name] = Math.max(needs.minimum[limit] ?? 0, Math.min(adapter.limits[limit], wanted!));
  }
  try {
    const device = await adapter.requestDevice({
      requiredFeatures: (needs.optionalFeatures ?? []).filter((feature) => adapter.features.has(feature)),
      requiredLimits,
    });
    return { device, ownsDevice: true };
  } catch (error) {
    throw new WebGpuUnavailableError(`requestDevice failed: ${String(error)}`, { cause: error });
  }
}
