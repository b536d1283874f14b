/**
 * The SDK–worker contract's types: what crosses the comlink boundary. Below both sides, so the SDK reaches
 * the engine only through the worker.
 */
import type { ItemDtype, ModelDtype, RankerFusion, RankerHead, RetrievalModelName } from '../bundle/index.ts';
import type { Action, Event } from '../events.ts';

/** What `deleteLocalData()` deleted on this device (see EngineStorage.deleteUserData). */
export type DeletedLocalData = DeletedUserData;

/** Where a stage ran: a GPU kernel, a WASM kernel (or ORT's wasm EP), or plain TypeScript. */
export type Backend = 'webgpu' | 'wasm' | 'js';
/** Where retrieval runs: `auto` tries WebGPU, then WASM; a named backend is used alone. */
export type DeviceChoice = 'auto' | Backend;

/** What configures an engine: where its bundle and server are, whose it is, and how it runs. */
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
  /** Whose feed this is: the key of the local event log and user state, and the sync server's user. */
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
  /**
   * How the ranker takes the user's newest actions: `early` (target attention from each candidate over
   * them, inside the ranker) or `late` (only through the user embeddings). Default: the fusion the bundle
   * chose on validation (`manifest.defaultRanker`; late for a bundle without one). A bundle without a
   * ranker of the asked fusion fails the start with BUNDLE_INVALID.
   */
  rankerFusion?: RankerFusion;
  /** Candidates retrieval hands the ranker (default 200). */
  candidates?: number;
  /** Weight of the long-term (server) embedding against the real-time one in the retrieval query. */
  longTermWeight?: number;
  /**
   * On-device learning of the user embedding from local feedback (default on): it runs in the worker after
   * a few new events, takes the long-term embedding's place in recommend(), and is what the sync client
   * writes to the server. `false` keeps the device to inference (the encoder blend). `backends`: the tfjs
   * backends the warm-up may choose from (default webgpu, wasm, cpu; the fastest is kept). How it learns
   * — and whether it learns at all — is the bundle's choice on its validation window (`manifest.learning`);
   * `true` learns even on a bundle that chose not to (with the built-in settings).
   */
  learning?:
    | boolean
    | {
        /** The tfjs backends the warm-up may choose from, tried in this order (default webgpu, wasm, cpu). */
        backends?: LearningBackendName[];
      };
  /**
   * Whether the device's embedding (64 numbers, learnt or encoded from local activity) is written to the
   * sync server — in privacy mode too, where it is the only thing about the user that leaves the device.
   * `false` opts out of that as well: with privacy on, nothing about the user leaves the device.
   */
  shareEmbedding?: boolean;
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
  /**
   * Threads of onnxruntime-web's wasm EP, which runs the ranker and the encoder (default: one fewer than the
   * cores, 1 to 4, where cross-origin isolated, else 1). The student models are small: one thread does not
   * wait on a second one the OS has descheduled, which on a two-core device cuts recommend()'s p50 and tail.
   */
  modelThreads?: number;
}

/** The steps of a start, in order: `manifest`, `download` (per file), `verify`, `compile`, `warmup`, `ready`. */
export type ProgressPhase = 'manifest' | 'download' | 'verify' | 'compile' | 'warmup' | 'ready';

/** One step of `createRecommender`'s start, passed to `onProgress`. */
export interface ProgressEvent {
  /** Which step of the start this event reports. */
  phase: ProgressPhase;
  /** The file being loaded, for download and verify. */
  file?: string;
  /**
   * download: bytes of the whole bundle (every file this device needs) loaded so far and in all, cached
   * files counted in full; never decreases. verify: the file's bytes.
   */
  loaded?: number;
  /** download: bytes of every file this device needs, in all (the manifest's sizes). verify: the file's. */
  total?: number;
  /** download: bytes of `file` loaded so far, streamed as they arrive. */
  fileLoaded?: number;
  /** download: the size of `file` in bytes, as the manifest gives it. */
  fileTotal?: number;
  /** True when the file came from IndexedDB rather than the network (reported once, in full). */
  cached?: boolean;
  /** What is happening, in words (e.g. the backend a warm-up chose), for a log or a status line. */
  message?: string;
}

/** What `recommend` is asked: how many items, and how to choose them. */
export interface RecommendRequest {
  /** How many items to return: an integer from 1 to 256 (fewer when the catalog has fewer left). */
  k: number;
  /** Item ids never to return (on top of hidden ones, and of seen ones unless `includeSeen`). */
  exclude?: string[];
  /** Also return items the user already acted on (default false: seen items are left out). */
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

/** One recommended item, with its utility, the ranker's probabilities and the reason shown to the user. */
export interface Recommendation {
  /** The item's id in the bundle's catalog (what `record` takes). */
  itemId: string;
  /** The item's title, from the catalog. */
  title: string;
  /** The item's topics, from the catalog (may be empty). */
  topics: string[];
  /**
   * The ranking score: Σ weight × probability over the ranker's heads (default weights click 1, closeup
   * 0.5, save 2, hide -4, or the bundle's, or `request.weights`); higher ranks first, before diversity.
   */
  utility: number;
  /** The ranker's probability, in [0, 1], that the user clicks, closes up on, saves or hides the item. */
  probabilities: Record<RankerHead, number>;
  /** Why it is here, in words, and what it came from. */
  reason: {
    /** The reason as shown to the user (e.g. "Because you saved “…”"). */
    text: string;
    /**
     * `recent`: close to an item the user just acted on (`itemId`); `interest`: a topic or one of the
     * user's interests (`itemId`, the interest's medoid, when there is one); `popular`: no history to go on.
     */
    kind: 'recent' | 'interest' | 'popular';
    /** The item the reason names, for `recent` and (when named) `interest`. */
    itemId?: string;
  };
}

/** Milliseconds spent in each stage of one `recommend` call, measured in the worker. */
export interface StageTimings {
  /** Reading the user's state and recent events, and the user embedding (encoder or learned one). */
  encode: number;
  /** Retrieval: the candidates' scores over the item table and their top `candidates`. */
  retrieve: number;
  /** The ranker (ONNX Runtime) over the candidates. */
  rank: number;
  /** Utility, filters, MMR diversity and the reasons. */
  rerank: number;
  /** The whole call in the worker: the four stages together. */
  total: number;
}

/** The answer of `recommend`: the items, where each stage ran, how long it took, the bundle version. */
export interface RecommendResult {
  /** The recommended items, best first (at most `k`). */
  items: Recommendation[];
  /** Where each stage ran for this call. */
  backend: {
    /** Retrieval: the WebGPU kernel, the WASM kernel, or the TypeScript popularity scan (no history yet). */
    retrieval: Backend;
    /** The ranker: ONNX Runtime's WebGPU or wasm execution provider. */
    ranker: 'webgpu' | 'wasm';
    /** The user encoder: ONNX Runtime's WebGPU or wasm execution provider. */
    encoder: 'webgpu' | 'wasm';
  };
  /** Milliseconds per stage, measured in the worker. */
  timings: StageTimings;
  /** The bundle version that answered (the manifest's `version`). */
  modelVersion: string;
}

/** An interaction to `record`; the engine fills in `id`, `userId` and `ts` when they are left out. */
export interface RecordedEvent {
  /** The item acted on, as the bundle's catalog names it. */
  itemId: string;
  /** What the user did: `impression`, `click`, `closeup`, `save` or `hide`. */
  action: Action;
  /** When, in milliseconds since the Unix epoch (default: now). */
  ts?: number;
  /** A unique id (1 to 256 characters) the server deduplicates on (default: a random UUID). */
  id?: string;
  /** Where in the app it happened (e.g. `home`), up to 64 characters. */
  surface?: string;
  /** How long the item was looked at, in milliseconds (at most a day). */
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
  /** What happened to the server's and the device's embedding, when the pass got that far. */
  embeddingDetail?: EmbeddingDetail;
  /** The sync client's state after the pass (`disabled` without a server). */
  state: SyncState;
}

/** A tfjs backend on-device learning can run on. */
export type LearningBackendName = 'webgpu' | 'wasm' | 'cpu';

/** Where on-device learning stands (the demo's "Under the hood" panel shows it). */
export interface LearningStatus {
  /**
   * `waiting`: not enough new events yet; `learning`: a run is in progress; `idle`: the last run finished;
   * `error`: the last run failed (`lastError`); `off`: `learning: false`, or the bundle chose not to learn
   * (`reason` says which).
   */
  state: 'waiting' | 'learning' | 'idle' | 'error' | 'off';
  /** Where the setting comes from, in words: the bundle's validation choice, the built-in defaults, or the app. */
  reason?: string;
  /** The tfjs backend learning runs on, once the warm-up has chosen one. */
  backend?: LearningBackendName;
  /** Warm-up ms per tfjs backend that worked: the choice. */
  timings?: Partial<Record<LearningBackendName, number>>;
  /** The tfjs backends that did not work here, each with its reason (e.g. "webgpu: … (no navigator.gpu)"). */
  failures?: string[];
  /** Learning runs since start, and the gradient steps they took. */
  runs: number;
  /** Gradient steps of all runs since start. */
  steps: number;
  /**
   * Steps the run in progress has taken so far (while `state` is `learning`): none is taken while a
   * recommend() is in flight, so this stands still during requests.
   */
  runSteps?: number;
  /** The last run's loss before its steps. */
  initialLoss?: number;
  /** The last run's loss after its steps. */
  loss?: number;
  /** Events the last run read, and its positives and negatives. */
  events?: number;
  /** Positive examples of the last run (engaged items). */
  positives?: number;
  /** Negative examples of the last run: hides, items shown and never engaged, and sampled items. */
  negatives?: number;
  /** When the last run ended, in milliseconds since the Unix epoch. */
  lastRunAt?: number;
  /** The last backend change (e.g. a lost WebGPU device moving learning to wasm), in words. */
  lastFallback?: string;
  /** Why the last run failed, in words; cleared by the next run that succeeds. */
  lastError?: string;
}

/** The engine's state (`status()`): readiness, bundle version, backends, isolation, sync and resources. */
export interface EngineStatus {
  /** Whether a bundle is loaded and `recommend` answers. */
  ready: boolean;
  /** The bundle version running (the manifest's `version`). */
  modelVersion?: string;
  /** Where retrieval, the ranker and the encoder run. */
  backend?: RecommendResult['backend'];
  /** The item table's number format in memory (`f32`, `f16` or `i8`). */
  dtype?: ItemDtype;
  /** The ranker model running: its role, dtype, quantized form and fusion (e.g. `student int8-qdq, early fusion`). */
  rankerVariant?: string;
  /** The global model whose space the item table and user embeddings are in (the bundle's validation choice). */
  retrievalSpace?: RetrievalModelName;
  /** Items in the bundle's catalog (rows of the item table). */
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
  /**
   * `device: 'auto'` on a hardware GPU: the median ms of a top-200 call on each retrieval backend, timed
   * on this catalog at start; the faster one runs. Absent when nothing was timed.
   */
  retrievalTimings?: Partial<Record<Backend, number>>;
  /** On-device learning of the user embedding: backend, runs, steps, last loss (src/engine/learning). */
  learning?: LearningStatus;
  /** Live model states, GPU buffers, retrieval workers and ORT sessions of the engine's worker (leak checks). */
  resources: LiveResources;
  /** Whether the engine's worker is cross-origin isolated (COOP + COEP): WASM threads need it. */
  crossOriginIsolated: boolean;
  /** Threads ONNX Runtime's wasm EP runs with: 1 without cross-origin isolation (retrieval's kernel likewise). */
  wasmThreads: number;
  /**
   * The onnxruntime-web build the engine's worker loaded: `wasm` (the wasm EP alone, when retrieval runs on
   * the CPU: a module half the size, compiled far faster) or `webgpu` (with ORT's WebGPU EP); absent before
   * the first bundle loads.
   */
  onnxRuntime?: 'wasm' | 'webgpu';
  /**
   * Where the engine runs: `shared` — one SharedWorker for every tab of the origin with the same engine
   * identity (`createRecommender({ shared: true })`); without SharedWorker, `leader` — this tab's worker,
   * serving the other tabs, or `follower` — the leader tab's worker, reached over a BroadcastChannel;
   * `dedicated` — a Web Worker of this recommender's own. Set by the SDK (the engine itself does not know);
   * a follower becomes `leader` when the leader's tab closes.
   */
  engineScope?: EngineScope;
  /** Recommenders attached to a shared or leader's engine (tabs, frames or createRecommender calls); 1 when dedicated. */
  connections?: number;
}

/**
 * Where this recommender's engine runs: one engine for every tab of the origin in a SharedWorker
 * (`shared`), or, without SharedWorker, in the worker of the tab elected leader (`leader`: this tab's;
 * `follower`: another tab's), or this recommender's alone (`dedicated`).
 */
export type EngineScope = 'shared' | 'leader' | 'follower' | 'dedicated';

/**
 * Where the sync client stands:
 * - `idle`: the last pass went through; `privacy` is the same in privacy mode (events stay on the device).
 * - `uploading`: a pass (events and/or embeddings) is in flight.
 * - `backoff`: the server answered 5xx, 408 or 429; a retry is scheduled at `nextRetryAt`.
 * - `offline`: the server could not be reached; a retry is scheduled, and the `online` event retries at once.
 * - `unauthorized`: 401 (or 403: the token is another user's); nothing is sent until `setToken`.
 * - `error`: the server refused events (set aside: see the engine status' `setAsideEvents`), or a contract
 *   mismatch or an unexpected failure stopped the pass. See `lastError`.
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

/** The sync client's state, part of `status()`. */
export interface SyncStatus {
  /** Where the sync client stands (see `SyncState`). */
  state: SyncState;
  /**
   * Whether privacy mode is on for this user (the stored, shared flag): events recorded meanwhile never
   * leave the device, only the embedding is synced.
   */
  privacy: boolean;
  /** When the last pass that reached the server without error ended (ms since the epoch). */
  lastSyncAt?: number;
  /** The last error, in words (kept after recovery, until a later error replaces it). */
  lastError?: string;
  /** When the scheduled retry will run (ms since the epoch), in `backoff` and `offline`. */
  nextRetryAt?: number;
  /** Events set aside this session (refused by the server, or in conflict): kept on the device, never sent again. */
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

/** What the last embedding sync did, in detail. */
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
    /** Events set aside during this pass: refused by the server alone, or in conflict with a stored one. */
    refused: number;
    /** Events still waiting in the outbox after this pass. */
    pending: number;
  };
  embedding: EmbeddingOutcome;
  embeddingDetail?: EmbeddingDetail;
  state: SyncState;
}

/** What `clearCache()` deleted: the versions and how many files. */
export interface ClearedBundles {
  /** The bundle versions deleted from IndexedDB. */
  versions: string[];
  /** Bundle files deleted (each stored file once, whatever versions shared it). */
  files: number;
}

/** One bundle version in the IndexedDB cache. */
export interface CachedVersion {
  /** The bundle version (the manifest's `version`). */
  version: string;
  /** The version the engine runs (and starts from offline). */
  current: boolean;
  /** The version before it, kept as a rollback target until pruned. */
  previous: boolean;
  /** Stored files of this version, and their bytes (a file shared with another version counts in both). */
  files: number;
  /** Bytes of those files. */
  bytes: number;
}

/** What the bundle cache holds, and whether the browser may evict it. */
export interface CacheInfo {
  /** Every bundle version in the cache, with its files and bytes. */
  versions: CachedVersion[];
  /** Bytes of every stored bundle file, each counted once. */
  bytes: number;
  /** Stored bundle files, each counted once. */
  files: number;
  /** `navigator.storage.persisted()`: true when the browser will not evict the origin's storage. */
  persisted: boolean;
  /** `navigator.storage.estimate()` for the whole origin, when the browser says. */
  usage?: number;
  /** The bytes the browser lets the origin store in all (`navigator.storage.estimate().quota`). */
  quota?: number;
}

/** What `cache.prune()` removed: every version but the current (and a pending) one. */
export interface CachePruned {
  /** The bundle versions removed. */
  versions: string[];
  /** Files removed (those no version kept still uses). */
  files: number;
  /** Bytes freed. */
  bytes: number;
}

/** What `deleteUserData` removed: the user's local data, counted. */
export interface DeletedUserData {
  /** The user whose local data was deleted. */
  userId: string;
  /** Events removed from the local log, all states together. */
  events: number;
  /** Of those, events still waiting in the outbox: they never reached the server and never will. */
  unsynced: number;
  /** Of those, events set aside after the server refused them. */
  setAside: number;
  /** Hidden items forgotten (they may be recommended again). */
  hiddenItems: number;
  /** Whether counts, hidden items and the long-term embedding were stored (and are now deleted). */
  userState: boolean;
  /** `meta` keys deleted (the sync client's record of this user). */
  meta: string[];
  /** Privacy mode is a setting, not data: it is kept, so recording after the deletion stays private. */
  privacyKept: boolean;
}

/** An event the server refused, or holds another event under its id: kept on the device, never sent again. */
export interface SetAsideEvent {
  /** The event as stored in the local log. */
  event: Event;
  /** Why, in words: the server's status and message, or the conflict. */
  reason: string;
}

/**
 * Live counts of what the engine holds that a leak would keep alive — model states, GPU retrievers and
 * their buffers, CPU retrievers and their helper workers, ORT sessions — for this realm (the engine's
 * worker). Each is counted up where it is created and down where it is freed, so a bundle swap that
 * frees everything of the old version shows here as counts back where they were; `status().resources`
 * reports them.
 */
export interface LiveResources {
  /** Loaded bundle versions (one, or two while a swap waits for the old one's last request). */
  modelStates: number;
  /** WebGPU retrievers (one per loaded version retrieving on WebGPU). */
  gpuRetrievers: number;
  /** GPU buffers those retrievers hold (the item table, scores, top-k scratch). */
  gpuBuffers: number;
  /** WASM retrievers (one per loaded version retrieving on the CPU). */
  cpuRetrievers: number;
  /** Helper workers of the multi-threaded CPU retrieval kernel. */
  retrievalWorkers: number;
  /** ONNX Runtime inference sessions (ranker, encoder) alive. */
  ortSessions: number;
}
