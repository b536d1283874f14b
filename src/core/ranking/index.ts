export {
  CONTEXT_DIM,
  CONTEXT_FEATURES,
  contextFeatures,
  type ItemStats,
  type UserActionCounts,
} from './context.ts';
export { mmrSelect } from './mmr.ts';
export { DEFAULT_UTILITY_WEIGHTS, realisedUtility, utility } from './utility.ts';
