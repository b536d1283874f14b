// Messages between the Node runner, the bench page and its retrieval workers.
import type { ItemDtype } from '../../../src/core/bundle/index.ts';

export const IMPLS = [
  'edgerec-webgpu',
  'edgerec-webgpu-radix',
  'edgerec-webgpu-fused',
  'edgerec-cpu',
  'tfjs-webgpu',
  'tfjs-wasm',
  'ort-wasm',
  'ort-wasm-matmul',
  'ort-wasm-int8',
  'ort-webgpu',
  'naive-js',
] as const;
export type Impl = (typeof IMPLS)[number];
export type Stage = 'retrieve' | 'recommend';

/** The peers edgerec is compared with; a row's ratio is against the fastest of them over the same dtype. */
export const BASELINES: readonly Impl[] = [
  'tfjs-webgpu',
  'tfjs-wasm',
  'ort-wasm',
  'ort-wasm-matmul',
  'ort-wasm-int8',
  'ort-webgpu',
  'naive-js',
];

/** Peers whose thread count is a setting: each is set up once per candidate count, and the fastest kept. */
export const THREADED_PEERS: readonly Impl[] = ['tfjs-wasm', 'ort-wasm', 'ort-wasm-matmul', 'ort-wasm-int8'];

/** Seeded queries each retrieval worker makes (benchQueries); calls cycle through them. */
export const BENCH_QUERIES = 97;

/** Queries whose top-k every row reports (the first calls), for recall against the exact f32 top-k. */
export const RECALL_QUERIES = 10;

export interface CatalogSpec {
  count: number;
  dim: number;
  /** The bundles folder (latest.json), as a URL path with a trailing slash. */
  bundlesUrl: string;
  version: string;
  /** The ORT peer models: Gemm(transB) + TopK, MatMul over the pre-transposed table + TopK, int8. */
  ortModelUrls: { gemm: string; matmul: string; int8: string };
}

/** recommend rows: on-device learning off, busy beside the timed calls, or off with the busy row's events. */
export type Learning = 'off' | 'records' | 'busy';
export const LEARNING: readonly Learning[] = ['off', 'busy', 'records'];

export interface BenchConfig {
  catalogs: CatalogSpec[];
  k: number;
  /** Timed calls per row. */
  runs: number;
  /** Untimed calls before a row's first timed turn (two more before each later turn). */
  warmup: number;
  /**
   * The same for recommend rows, which need more: V8 optimises the engine's JS and ORT's wasm while the
   * first few hundred calls run. WebGPU rows on a software adapter (SwiftShader: ~0.7 s a call, timings
   * that mean nothing) take `warmup` instead.
   */
  recommendWarmup: number;
  /** Turns the timed calls of a row are split into; rows of one catalog and stage take turns. */
  rounds: number;
  /** Feed size asked of recommend() (retrieval still hands the ranker 200 candidates). */
  feedK: number;
  /** A row that has spent this long in timed calls takes no further turns. */
  maxRowSeconds: number;
  stages: Stage[];
  impls: Impl[];
  /** Rows of these item-table dtypes only. */
  dtypes: ItemDtype[];
  /** recommend rows with these learning settings only. */
  learning: Learning[];
  /** Report the engine's load progress too. */
  verbose: boolean;
}

export interface RowResult {
  catalog: number;
  dtype: ItemDtype;
  impl: Impl;
  stage: Stage;
  /** Nearest-rank percentiles (src/core/lab/metrics.ts's, as the lab reports them). */
  p50_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  min_ms: number | null;
  /** The slowest call: with 100 calls, p99 (nearest rank) is the 99th of 100, this the 100th. */
  max_ms: number | null;
  runs: number;
  /** How it was set up: threads, kernel variant, backend that ran, setup time. */
  info: Record<string, unknown>;
  /**
   * retrieve: mean over the first RECALL_QUERIES queries of |top-k ∩ exact f32 top-k| / k (the runner
   * computes the exact answer with referenceTopK); null for recommend rows.
   */
  recall_vs_f32?: number | null;
  /** retrieve: the top-k of the first RECALL_QUERIES queries (dropped from the JSON once scored). */
  answers?: number[][];
  /** 1-minute load average of the machine before each of the row's turns (from the Node runner). */
  load?: number[];
  /** recommend: createRecommender (download, verify, compile, warm up) and the first recommend() after it. */
  cold?: {
    init_ms: number;
    first_recommend_ms: number;
    cold_start_ms: number;
    /** ms since createRecommender when each load phase was first and last reported. */
    phases: Record<string, [number, number]>;
  };
  /**
   * recommend: on-device learning off, running beside the timed calls ('busy'), or off with the busy
   * row's events recorded ('records'; see RECOMMEND_ROWS).
   */
  learning?: 'off' | 'records' | 'busy';
  /** recommend, learning busy: the tfjs backend the learning runs used. */
  learningBackend?: string;
  /** recommend: the engine's own stage timings (p50 ms), from RecommendResult.timings. */
  stages?: Record<string, number>;
  /** recommend: the same stage timings' p99 (ms). */
  stages_p99?: Record<string, number>;
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
      /** Threads for the peers whose thread count is a setting (THREADED_PEERS); default: the cores. */
      threads?: number;
    }
  | { kind: 'run'; from: number; count: number; warmup: number }
  | { kind: 'dispose' };

export type WorkerReply =
  | { kind: 'ready'; info: Record<string, unknown>; answers: number[][] }
  | { kind: 'samples'; ms: number[] }
  | { kind: 'disposed' }
  | { kind: 'error'; error: string };
