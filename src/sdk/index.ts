export type { Event } from '../core/events.ts';
export type {
  Backend,
  DeviceChoice,
  EngineStatus,
  ProgressEvent,
  Recommendation,
  RecommendRequest,
  RecommendResult,
  RecordedEvent,
  StageTimings,
} from '../engine/types.ts';
export { createRecommender, type Recommender, type RecommenderOptions } from './recommender.ts';
