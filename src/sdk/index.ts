export {
  BundleSourceError,
  IntegrityError,
  ManifestError,
  VariantNotFoundError,
} from '../core/bundle/index.ts';
export { SyncHttpError, SyncNetworkError } from '../core/contract/http.ts';
export type {
  Backend,
  CachedVersion,
  CacheInfo,
  CachePruned,
  ClearedBundles,
  DeletedLocalData,
  DeviceChoice,
  EmbeddingDetail,
  EmbeddingOutcome,
  EngineStatus,
  LiveResources,
  ProgressEvent,
  Recommendation,
  RecommendRequest,
  RecommendResult,
  RecordedEvent,
  SetAsideEvent,
  StageTimings,
  SyncResult,
  SyncState,
  SyncStatus,
} from '../core/contract/index.ts';
export {
  AbortedError,
  EdgerecError,
  ERROR_CODES,
  type ErrorCode,
  InputError,
  InvalidOptionsError,
  InvalidRequestError,
  isEdgerecError,
  StorageBlockedError,
  TimeoutError,
} from '../core/errors.ts';
export { type Event, EventValidationError } from '../core/events.ts';
export type { RecommenderCache } from './cache-control.ts';
export {
  createRecommender,
  type RecommendCall,
  type Recommender,
  type RecommenderOptions,
} from './recommender.ts';
export { createSession, refreshSession, type Session } from './session.ts';
