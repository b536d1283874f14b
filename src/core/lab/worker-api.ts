import type { ItemDtype, ModelDtype, ModelRole } from '../bundle/manifest.ts';
import type { LabSplit } from './pack.ts';
import type { LabProgress, LabResult } from './run.ts';

export type LabDevice = 'webgpu' | 'wasm';

/** What the lab page asks the lab worker to run. */
export interface LabRequest {
  /** A bundles folder with latest.json (`/models/`, `/v1/bundles/`) or one bundle's folder. */
  bundleUrl: string;
  split: LabSplit;
  items: ItemDtype[];
  rankers: ModelDtype[];
  devices: LabDevice[];
  runs: number;
  role?: ModelRole;
  /**
   * Your own ranker graphs (.onnx), evaluated like the bundle's rankers after a check against their
   * contract; pass the buffers as transferables (comlink `transfer`).
   */
  rankerFiles?: { name: string; bytes: ArrayBuffer }[];
}

export interface LabEnvironment {
  userAgent: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  /** The WebGPU adapter, or why there is none. */
  webgpu: { available: boolean; description: string; fallback?: boolean };
  ortThreads: number;
}

export interface LabBrowserResult extends LabResult {
  environment: LabEnvironment;
  /** Where the bundle and the pack were read from. */
  bundleUrl: string;
  packUrl: string;
}

export type LabPhase = 'bundle' | 'pack' | 'run';

export interface LabWorkerProgress extends LabProgress {
  phase: LabPhase;
}

/** The lab worker's API (comlink). */
export interface LabWorkerApi {
  environment(): Promise<LabEnvironment>;
  run(request: LabRequest, onProgress: (p: LabWorkerProgress) => void): Promise<LabBrowserResult>;
}
