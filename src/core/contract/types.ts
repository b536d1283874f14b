/**
 * The SDK–worker contract: what the page and the engine's worker say to each other. Below both (DESIGN.md:
 * the SDK imports core only and reaches the engine through the worker); src/engine re-exports it.
 */
import type { ItemDtype, ModelDtype, RankerHead } from '../bundle/index.ts';
import type { Action } from '../events.ts';

/** Where a stage ran: a GPU kernel, a WASM kernel (or ORT's wasm EP), or plain TypeScript. */
export type Backend = 'webgpu' | 'wasm' | 'js';
export type DeviceChoice = 'auto' | Backend;

export interface EngineOptions {
  /**
   * Folder holding `latest.json` and the bundles (e.g. `/models/`), or one bundle's folder. With
   * `serverUrl` too, bundles come from here rather than from the server's registry.
   */
  bundleUrl?: string;
  /**
   * The sync server (`edgerec serve`, e.g. `https://api.example.com`): bundles from its registry
   * (`/v1/bundles/`) unless `bundleUrl` is given, the local event log uploaded (batched, retried, exactly
   * once), the server's long-term embedding pulled and the device-learned one written. Only the origin
   * counts: the API lives at `/v1/` of it.
   */
  serverUrl?: string;
  userId: string;
  /**
   * Bearer token of `userId` on `serverUrl` (your auth, or `createSession(serverUrl)`). Not stored by the
   * engine; a new one can be given later with `setToken` (after a 401, or a renewal).
   */
  token?: string;
  /**
   * Privacy mode (with `serverUrl`): raw events never leave the device — the server is told so at the
   * first sync (which deletes any it holds), events are kept local only, and only the device-learned
   * embedding is written. Default false.
   */
  privacy?: boolean;
  /** Retrieval device; `auto` = WebGPU when the adapter has what the kernels need, else WASM. */
  device?: DeviceChoice;
  /** Item table to retrieve over (default i8: a quarter of f32's bytes, HR@10 within 0.5%). */
  dtype?: ItemDtype;
  /** Ranker variant (default: the student in int8, the dq form on webgpu and the qdq form on wasm). */
  rankerDtype?: ModelDtype;
  /** Candidates retrieval hands the ranker (default 200). */
  candidates?: number;
  /** Weight of the long-term (server) embedding against the real-time one in the retrieval query. */
  longTermWeight?: number;
  /** IndexedDB database name (tests use their own). */
  databaseName?: string;
}

export type ProgressPhase = 'manifest' | 'download' | 'verify' | 'compile' | 'warmup' | 'ready';

export interface ProgressEvent {
  phase: ProgressPhase;
  /** The file being loaded, for download and verify. */
  file?: string;
  loaded?: number;
  total?: number;
  /** True when the file came from IndexedDB rather than the network. */
  cached?: boolean;
  message?: string;
}

export interface RecommendRequest {
  k: number;
  /** Item ids never to return (on top of hidden ones, and of seen ones unless `includeSeen`). */
  exclude?: string[];
  includeSeen?: boolean;
  /** Overrides of the bundle's utility weights. */
  weights?: Partial<Record<RankerHead, number>>;
  /** MMR λ in [0, 1]: 1 = pure utility (default 0.8). */
  diversity?: number;
}

export interface Recommendation {
  itemId: string;
  title: string;
  topics: string[];
  utility: number;
  probabilities: Record<RankerHead, number>;
  /** Why it is here, in words, and what it came from. */
  reason: { text: string; kind: 'recent' | 'interest' | 'popular'; itemId?: string };
}

export interface StageTimings {
  encode: number;
  retrieve: number;
  rank: number;
  rerank: number;
  total: number;
}

export interface RecommendResult {
  items: Recommendation[];
  backend: { retrieval: Backend; ranker: 'webgpu' | 'wasm'; encoder: 'webgpu' | 'wasm' };
  timings: StageTimings;
  modelVersion: string;
}

export interface RecordedEvent {
  itemId: string;
  action: Action;
  ts?: number;
  id?: string;
  surface?: string;
  dwellMs?: number;
}

/** What `sync()` did: the bundle check, then (with a server) the outbox and the embeddings. */
export interface SyncResult {
  bundle: 'current' | 'updated' | 'offline';
  version?: string;
  /** Without a server: nothing uploaded, `pending` the events waiting. */
  events: SyncPassResult['events'];
  /** `disabled` without a server. */
  embedding: EmbeddingOutcome;
  embeddingDetail?: EmbeddingDetail;
  /** The sync client's state after the pass (`disabled` without a server). */
  state: SyncState;
}

export interface EngineStatus {
  ready: boolean;
  modelVersion?: string;
  backend?: RecommendResult['backend'];
  dtype?: ItemDtype;
  rankerVariant?: string;
  items?: number;
  /** Local events waiting in the outbox (all users of the database); events kept local only are not counted. */
  pendingEvents: number;
  /** Whether the bundle source, and the sync server when there is one, answered last time. */
  online: boolean;
  /** The sync client: `disabled` without `serverUrl`. */
  sync: SyncStatus;
  /** The last fallback or error the engine recovered from, in words. */
  lastFallback?: string;
  /** Whether the engine's worker is cross-origin isolated (COOP + COEP): WASM threads need it. */
  crossOriginIsolated: boolean;
  /** Threads ONNX Runtime's wasm EP runs with: 1 without cross-origin isolation (retrieval's kernel likewise). */
  wasmThreads: number;
}

// --- the sync client, as status() and sync() report it -----------------------------------------

/**
 * Where the sync client stands:
 * - `idle`: the last pass went through; `privacy` is the same in privacy mode (events stay on the device).
 * - `uploading`: a pass (events and/or embeddings) is in flight.
 * - `backoff`: the server answered 5xx, 408 or 429; a retry is scheduled at `nextRetryAt`.
 * - `offline`: the server could not be reached; a retry is scheduled, and the `online` event retries at once.
 * - `unauthorized`: 401 (or 403: the token is another user's); nothing is sent until `setToken`.
 * - `error`: the server refused something as malformed (400/413), or an unexpected failure. See `lastError`.
 * - `disabled`: no `serverUrl`: the engine runs on its own.
 */
export type SyncState =
  | 'idle'
  | 'uploading'
  | 'backoff'
  | 'offline'
  | 'unauthorized'
  | 'error'
  | 'disabled'
  | 'privacy';

export interface SyncStatus {
  state: SyncState;
  /** Whether privacy mode is on: raw events never leave the device, only the embedding is synced. */
  privacy: boolean;
  /** When the last pass that reached the server without error ended (ms since the epoch). */
  lastSyncAt?: number;
  /** The last error, in words (kept after recovery, until a later error replaces it). */
  lastError?: string;
  /** When the scheduled retry will run (ms since the epoch), in `backoff` and `offline`. */
  nextRetryAt?: number;
  /** Events the server refused as malformed (kept on the device, never sent again), this session. */
  refusedEvents?: number;
}

/** What happened to the embeddings in one pass, in one word. */
export type EmbeddingOutcome =
  | 'pulled'
  | 'pushed'
  | 'pulled+pushed'
  | 'unchanged'
  | 'conflict'
  | 'offline'
  | 'unauthorized'
  | 'error'
  | 'disabled';

export interface EmbeddingDetail {
  /**
   * The server's long-term embedding: `adopted` (stored as the user's longTerm), `unchanged` (already
   * held), `other-version` (computed for another bundle version than the one running: not used), `none`
   * (the server has none yet), `skipped` (not asked this pass).
   */
  server: 'adopted' | 'unchanged' | 'other-version' | 'none' | 'skipped';
  /**
   * The device-learned embedding: `pushed`, `pushed-after-conflict` (a 409 named a newer version; this
   * device adopted it as its base and wrote again), `unchanged` (same as last written), `conflict` (a
   * second 409 in a row: left for the next pass), `none` (no local action to embed yet), `skipped`.
   */
  device: 'pushed' | 'pushed-after-conflict' | 'unchanged' | 'conflict' | 'none' | 'skipped';
  /** The device embedding version on the server after this pass, when known. */
  deviceVersion?: number;
}

/** What one pass did; `sync()` returns it (with the bundle's part added by the engine). */
export interface SyncPassResult {
  events: {
    /** Events the server newly stored during this pass. */
    uploaded: number;
    /** Events this pass sent that the server already had (they count as synced). */
    duplicates: number;
    /** Events the server refused as malformed during this pass (kept local only). */
    refused: number;
    /** Events still waiting in the outbox after this pass. */
    pending: number;
  };
  embedding: EmbeddingOutcome;
  embeddingDetail?: EmbeddingDetail;
  state: SyncState;
}
