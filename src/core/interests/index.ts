/** PinnerSage multi-interest: Ward clustering, medoids, time-decayed importance, quota merge. */
export {
  DEFAULT_INTEREST_OPTIONS,
  decayedFrequency,
  type EngagedPin,
  type Interest,
  type InterestOptions,
  userInterests,
} from './interests.ts';
export { largestRemainder, mergeByQuota, type QuotaMerge } from './quota.ts';
export {
  medoids,
  squaredDistances,
  type WardClustering,
  type WardCut,
  type WardMerge,
  wardClustering,
} from './ward.ts';
