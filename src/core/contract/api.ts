import type { Event } from '../events.ts';
import type {
  CacheInfo,
  CachePruned,
  ClearedBundles,
  DeletedLocalData,
  EngineOptions,
  EngineStatus,
  LearningStatus,
  ProgressEvent,
  RecommendRequest,
  RecommendResult,
  RecordedEvent,
  SetAsideEvent,
  SyncResult,
} from './types.ts';

/** What the worker exposes over comlink: the design's Worker API, one method per line. */
export interface EngineApi {
  init(options: EngineOptions, onProgress?: (p: ProgressEvent) => void): Promise<EngineStatus>;
  recommend(request: RecommendRequest): Promise<RecommendResult>;
  record(event: RecordedEvent): Promise<Event>;
  /** A newer bundle, then (with a server) the outbox upload and the embedding sync. */
  sync(): Promise<SyncResult>;
  /** A new bearer token for the sync server (after a 401, or a renewal). */
  setToken(token: string): Promise<void>;
  status(): Promise<EngineStatus>;
  /** Turns privacy mode on or off for this user, stored and shared by every tab. */
  setPrivacy(on: boolean): Promise<void>;
  /** Events the server refused (set aside), oldest first. */
  setAsideEvents(limit?: number): Promise<SetAsideEvent[]>;
  /** Deletes the cached bundles only. */
  clearCache(): Promise<ClearedBundles>;
  /** What the bundle cache holds (versions, bytes) and whether it is persisted. */
  cacheInfo(): Promise<CacheInfo>;
  /** Deletes every cached version but the current one. */
  pruneCache(): Promise<CachePruned>;
  /** Deletes this user's local data (events, hidden items, counts, embeddings) and says what it deleted. */
  deleteLocalData(): Promise<DeletedLocalData>;
  /** Destroys the retrieval GPU device, to exercise the CPU fallback (tests, diagnostics). */
  simulateDeviceLoss(): Promise<boolean>;
  /** A learning run of the user embedding now (off the request path), and the learning status after it. */
  learn(): Promise<LearningStatus>;
  /** Destroys the GPU device tfjs learns on, to exercise learning's fallback to wasm (tests, diagnostics). */
  simulateLearningDeviceLoss(): Promise<boolean>;
  dispose(): Promise<void>;
}

/**
 * What the shared engine worker exposes on each connection (one per recommender): the engine's API, where
 * `init` attaches to the engine already running (or starting) and `dispose` detaches, the last one closing it.
 */
export interface SharedEngineApi extends EngineApi {
  /**
   * Ties the connection to a Web Lock the page holds until it disposes: once the lock is free (the tab
   * closed or crashed without disposing), the engine drops the connection as if it had disposed.
   */
  attach(lockName: string): Promise<void>;
}

/** The engine calls a shared engine passes through unchanged: all but start-up, status and dispose. */
export type ForwardedCalls = Omit<EngineApi, 'init' | 'status' | 'dispose'>;

/**
 * The calls a host of one engine for several tabs (the SharedWorker, or a leader tab) forwards to it once
 * it has started; `engine` waits for that start (and fails as it failed).
 */
export function forwardCalls(engine: () => Promise<EngineApi>): ForwardedCalls {
  return {
    recommend: async (request) => (await engine()).recommend(request),
    record: async (event) => (await engine()).record(event),
    sync: async () => (await engine()).sync(),
    setToken: async (token) => (await engine()).setToken(token),
    setPrivacy: async (on) => (await engine()).setPrivacy(on),
    setAsideEvents: async (limit) => (await engine()).setAsideEvents(limit),
    clearCache: async () => (await engine()).clearCache(),
    cacheInfo: async () => (await engine()).cacheInfo(),
    pruneCache: async () => (await engine()).pruneCache(),
    deleteLocalData: async () => (await engine()).deleteLocalData(),
    simulateDeviceLoss: async () => (await engine()).simulateDeviceLoss(),
    learn: async () => (await engine()).learn(),
    simulateLearningDeviceLoss: async () => (await engine()).simulateLearningDeviceLoss(),
  };
}

/**
 * The options that make an engine what it is: connections share an engine only when these agree (the
 * SharedWorker's name is derived from them). Callbacks, tokens and tuning options of later connections
 * are not: the first connection's apply.
 */
export function engineIdentity(options: EngineOptions): string {
  return JSON.stringify([
    options.bundleUrl ?? null,
    options.serverUrl ?? null,
    options.userId,
    options.databaseName ?? null,
    options.device ?? 'auto',
    options.dtype ?? 'i8',
    // The served ranker: a tab asking for another one must not be handed this engine's.
    options.rankerDtype ?? null,
    options.rankerFusion ?? null,
  ]);
}
