export { DeviceLostError, WebGpuUnavailableError } from './errors.ts';
export { type RetrievalTimings, WebGpuRetriever, type WebGpuRetrieverOptions } from './retriever.ts';
export type { ScanVariant } from './shaders.ts';
