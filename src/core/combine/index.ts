/** The rule that combines the server's long-term embedding with a device-learned one. */
export {
  type CombineRule,
  combineEmbeddings,
  combineRuleName,
  DEFAULT_COMBINE_RULE,
  parseCombineRule,
  type TimedEmbedding,
  validCombineRule,
} from './rule.ts';
