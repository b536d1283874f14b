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
