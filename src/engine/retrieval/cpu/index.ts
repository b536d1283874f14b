export { type KernelFlavor, MAX_I8_DIM } from './kernel.ts';
export { CpuRetriever, type CpuRetrieverOptions } from './retriever.ts';
export { scanRows, scanTopK, sortEntries, TopKHeap } from './scan-ts.ts';
