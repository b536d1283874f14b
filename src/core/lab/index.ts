/** The quantization lab's shared core: the eval pack format, the metrics and the evaluation driver. */

export * from './external.ts';
export * from './load.ts';
export * from './metrics.ts';
export * from './pack.ts';
export * from './report.ts';
export * from './run.ts';
export * from './worker-api.ts';
