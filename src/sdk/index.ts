export { BundleSourceError, ManifestError, VariantNotFoundError } from '../core/bundle/errors.ts';
export { IntegrityError } from '../core/bundle/integrity.ts';
export { RANKER_HEADS, type RankerHead } from '../core/bundle/manifest.ts';
export { SyncHttpError, SyncNetworkError } from '../core/contract/http.ts';
export type {
  Backend,
  CachedVersion,
  CacheInfo,
  CachePruned,
  ClearedBundles,
  DeletedLocalData,
  DeletedUserData,
  DeviceChoice,
  EmbeddingDetail,
  EmbeddingOutcome,
  EngineScope,
  EngineStatus,
  LearningBackendName,
  LearningStatus,
  LiveResources,
  ProgressEvent,
  ProgressPhase,
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
  type EdgerecErrorOptions,
  ERROR_CODES,
  type ErrorCode,
  InputError,
  InvalidOptionsError,
  InvalidRequestError,
  isEdgerecError,
  StorageBlockedError,
  TimeoutError,
} from '../core/errors.ts';
export { type EventProblem, EventValidationError } from '../core/event-errors.ts';
export type { Event } from '../core/events.ts';
export type { RecommenderCache } from './cache-control.ts';
export {
  createRecommender,
  type RecommendCall,
  type Recommender,
  type RecommenderOptions,
} from './recommender.ts';
export { createSession, refreshSession, type Session } from './session.ts';
