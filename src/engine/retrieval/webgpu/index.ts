export {
  createGpuRetriever,
  type GpuPipeline,
  type GpuRetriever,
  type GpuRetrieverOptions,
} from './create.ts';
export { DeviceLostError, WebGpuUnavailableError } from './errors.ts';
export {
  excludedRows,
  type GpuPassTimes,
  RadixGpuRetriever,
  type RadixRetrieverOptions,
  type RadixSelect,
  type RadixTimings,
} from './radix-retriever.ts';
export { type RetrievalTimings, WebGpuRetriever, type WebGpuRetrieverOptions } from './retriever.ts';
export type { ScanVariant } from './shaders.ts';
