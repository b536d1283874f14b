import type { ItemDtype, ModelDtype, ModelRole } from '../bundle/manifest.ts';
import type { NamedVariant, ReplayMetric } from '../replay/index.ts';
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

/** What the lab's replay tab asks for: the replay evaluation of the bundle on its replay pack. */
export interface LabReplayRequest {
  bundleUrl: string;
  split: LabSplit;
  /** The built-in variants and the learning ones (`learned`, `learned+multi`: tfjs in the lab worker). */
  variants: NamedVariant[];
}

export interface LabReplayProgress {
  /** `tfjs`: loading tfjs and its backend for the learning variants. */
  phase: 'bundle' | 'pack' | 'models' | 'tfjs' | 'run';
  variant?: string;
  done: number;
  total: number;
}

/** The replay's rows on the pack's seeded user sample (the numbers `edgerec replay` prints for it). */
export interface LabReplayResult {
  bundle: string;
  split: LabSplit;
  seed: number;
  /** Users in the pack's sample, and those with engaged pins to find (the table's `users`). */
  sampledUsers: number;
  users: number;
  requests: number;
  standIns: boolean;
  rows: { variant: string; metrics: Record<ReplayMetric, number> }[];
  /** The tfjs backend the learning variants ran on (wasm, else cpu), and why others did not; absent without them. */
  learning?: { backend: string; failures: string[] };
  packUrl: string;
  /** The command that gives the same numbers in Node. */
  command: string;
}

/** The lab worker's API (comlink). */
export interface LabWorkerApi {
  environment(): Promise<LabEnvironment>;
  run(request: LabRequest, onProgress: (p: LabWorkerProgress) => void): Promise<LabBrowserResult>;
  replay(request: LabReplayRequest, onProgress: (p: LabReplayProgress) => void): Promise<LabReplayResult>;
}
