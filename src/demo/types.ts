import type { RecommendRequest } from '../sdk/index.ts';

export type { EngineStatus, Recommendation, RecommendResult } from '../sdk/index.ts';
export type RankerWeights = Required<NonNullable<RecommendRequest['weights']>>;
