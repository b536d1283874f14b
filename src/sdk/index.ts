export type {
  Backend,
  ClearedBundles,
  DeletedLocalData,
  DeviceChoice,
  EmbeddingDetail,
  EmbeddingOutcome,
  EngineStatus,
  LearningBackendName,
  LearningStatus,
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
export type { Event } from '../core/events.ts';
export { createRecommender, type Recommender, type RecommenderOptions } from './recommender.ts';
export { createSession, refreshSession, type Session } from './session.ts';
