export type { Event } from '../core/events.ts';
export type {
  Backend,
  DeviceChoice,
  EmbeddingDetail,
  EmbeddingOutcome,
  EngineStatus,
  ProgressEvent,
  Recommendation,
  RecommendRequest,
  RecommendResult,
  RecordedEvent,
  StageTimings,
  SyncResult,
  SyncState,
  SyncStatus,
} from '../engine/types.ts';
export { createRecommender, type Recommender, type RecommenderOptions } from './recommender.ts';
export { createSession, refreshSession, type Session } from './session.ts';
