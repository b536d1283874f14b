export { itemRows, writeItemRow } from './item-rows.ts';
export {
  type ExclusionBitset,
  exclusionBitset,
  halfToFloat,
  isExcluded,
  type QuantizedQuery,
  quantizeQuery,
  referenceScores,
  referenceTopK,
  type TopKResult,
} from './reference.ts';
