/** The feed pipeline (encode → retrieve → rank → rerank), one implementation for the engine and the replay. */
export { blend, engagedPins, recommendFeed } from './pipeline.ts';
export { interestReason, type ReasonContext, reasonFor } from './reasons.ts';
export { type FeedAllocator, type Feeds, sequenceFeeds } from './sequence-feeds.ts';
export type {
  FeedAction,
  FeedItem,
  FeedModel,
  FeedReason,
  FeedRequest,
  FeedResult,
  FeedRunners,
  FeedStage,
  InterestMode,
  RankerInputs,
  ReasonKind,
} from './types.ts';
