import type { ItemDtype, ModelDtype, RankerHead } from '../core/bundle/index.ts';
import type { Action } from '../core/events.ts';
import type { LiveResources } from './resources.ts';
import type { DeletedUserData } from './storage/index.ts';
import type {
  EmbeddingDetail,
  EmbeddingOutcome,
  SyncPassResult,
  SyncState,
  SyncStatus,
} from './sync/types.ts';

export type { LiveResources } from './resources.ts';
export type { ClearedBundles, SetAsideEvent } from './storage/index.ts';
export type { EmbeddingDetail, EmbeddingOutcome, SyncState, SyncStatus } from './sync/types.ts';

/** What `deleteLocalData()` deleted on this device (see EngineStorage.deleteUserData). */
export type DeletedLocalData = DeletedUserData;

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
   * `true` turns privacy mode on for this user: raw events never leave the device. The setting is stored
   * in IndexedDB and shared by every tab and later start of this user; each event is stored local only
   * when it is recorded under it, so no tab ever uploads it — not after privacy is turned off either. The
   * server is told at the next sync (which deletes the raw events it holds), and only the device-learned
   * embedding is written. Leaving it out (or `false`) keeps the stored setting, so a tab started without
   * the flag never turns privacy off behind the user's back; `setPrivacy(false)` turns it off.
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
  /**
   * The local event log keeps this user's newest `maxLogEvents` events (default 5,000; the encoder reads
   * the newest 500). Older ones are deleted as new ones come — never one still waiting for upload or set
   * aside after a refusal.
   */
  maxLogEvents?: number;
  /** Threads of the CPU retrieval kernel, the calling one included (default: one per 32k items, up to 8). */
  retrievalThreads?: number;
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
  /**
   * `multi`: also retrieve for the user's PinnerSage interests (Ward clusters of their engaged pins, by
   * medoid), merged by importance quotas; those pins' reasons name the interest. Default `multi`, which
   * the replay evaluation's validation window chose.
   */
  interests?: 'single' | 'multi';
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
  /**
   * `offline`: the bundle URL gave no answer for now (network, 5xx); `error`: it answered but not with a
   * bundle (404, malformed), or the new version failed to load — see `bundleError`; the running version
   * stays in both.
   */
  bundle: 'current' | 'updated' | 'offline' | 'error';
  /** The version running after the check. */
  version?: string;
  /** What went wrong, with the URL, when `bundle` is `error`. */
  bundleError?: string;
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
  /**
   * Events set aside (all users of the database): the server refused them alone (a 4xx), or holds another
   * event under their id. Kept on the device, never sent again; `setAsideEvents()` lists them.
   */
  setAsideEvents: number;
  /** Whether the bundle source, and the sync server when there is one, answered last time. */
  online: boolean;
  /** The sync client: `disabled` without `serverUrl`. */
  sync: SyncStatus;
  /** The last fallback or error the engine recovered from, in words. */
  lastFallback?: string;
  /** Live model states, GPU buffers, retrieval workers and ORT sessions of the engine's worker (leak checks). */
  resources: LiveResources;
  /** Whether the engine's worker is cross-origin isolated (COOP + COEP): WASM threads need it. */
  crossOriginIsolated: boolean;
  /** Threads ONNX Runtime's wasm EP runs with: 1 without cross-origin isolation (retrieval's kernel likewise). */
  wasmThreads: number;
}
