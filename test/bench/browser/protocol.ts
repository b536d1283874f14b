// Messages between the Node runner, the bench page and its retrieval workers.
import type { ItemDtype } from '../../../src/core/bundle/index.ts';

export const IMPLS = [
  'edgerec-webgpu',
  'edgerec-cpu',
  'tfjs-webgpu',
  'tfjs-wasm',
  'ort-wasm',
  'ort-webgpu',
  'naive-js',
] as const;
export type Impl = (typeof IMPLS)[number];
export type Stage = 'retrieve' | 'recommend';

/** The peers edgerec is compared with; the ratio column is against the fastest of them. */
export const BASELINES: readonly Impl[] = ['tfjs-webgpu', 'tfjs-wasm', 'ort-wasm', 'ort-webgpu', 'naive-js'];

export interface CatalogSpec {
  count: number;
  dim: number;
  /** The bundles folder (latest.json), as a URL path with a trailing slash. */
  bundlesUrl: string;
  version: string;
  ortModelUrl: string;
}

export interface BenchConfig {
  catalogs: CatalogSpec[];
  k: number;
  /** Timed calls per row. */
  runs: number;
  /** Untimed calls before a row's first timed turn (two more before each later turn). */
  warmup: number;
  /** Turns the timed calls of a row are split into; rows of one catalog and stage take turns. */
  rounds: number;
  /** Feed size asked of recommend() (retrieval still hands the ranker 200 candidates). */
  feedK: number;
  /** A row that has spent this long in timed calls takes no further turns. */
  maxRowSeconds: number;
  stages: Stage[];
  impls: Impl[];
  /** Report the engine's load progress too. */
  verbose: boolean;
}

export interface RowResult {
  catalog: number;
  dtype: ItemDtype;
  impl: Impl;
  stage: Stage;
  p50_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  min_ms: number | null;
  runs: number;
  /** How it was set up: threads, kernel variant, backend that ran, setup time. */
  info: Record<string, unknown>;
  /** retrieve: share of the top-k (first query) that the exact f32 naive-js result also has. */
  agreement?: number;
  /** recommend: the engine's own stage timings (p50 ms), from RecommendResult.timings. */
  stages?: Record<string, number>;
  error?: string;
}

export interface DeviceInfo {
  userAgent: string;
  hardwareConcurrency: number;
  crossOriginIsolated: boolean;
  webgpu:
    | {
        vendor: string;
        architecture: string;
        device: string;
        description: string;
        isFallbackAdapter: boolean | null;
        features: string[];
        maxStorageBufferBindingSize: number;
        maxBufferSize: number;
      }
    | { error: string };
}

export interface BenchResult {
  device: DeviceInfo;
  rows: RowResult[];
}

/** Page → retrieval worker. */
export type WorkerRequest =
  | {
      kind: 'init';
      impl: Impl;
      dtype: ItemDtype;
      catalog: CatalogSpec;
      k: number;
      /** Queries made in the worker (seeded; the same in every worker). */
      queries: number;
    }
  | { kind: 'run'; from: number; count: number; warmup: number }
  | { kind: 'dispose' };

export type WorkerReply =
  | { kind: 'ready'; info: Record<string, unknown>; first: number[] }
  | { kind: 'samples'; ms: number[] }
  | { kind: 'disposed' }
  | { kind: 'error'; error: string };
