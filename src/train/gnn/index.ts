export { buildComputation, type Computation } from './computation.ts';
export { type ContentFeature, hashBucket, type ItemContent, itemContent, titleTokens } from './content.ts';
export { type DenseWeight, denseShapes, embedItems, type GnnModel, nodeInputs } from './model.ts';
export { GnnNetwork, type TrainBatch } from './network.ts';
export { GNN_DEFAULTS, type GnnOptions, resolveGnnOptions } from './options.ts';
export { buildPairPool, type PairPool, sampleBatch } from './pairs.ts';
export { GnnRecommender, type GnnRecommenderOptions } from './recommender.ts';
export {
  type GnnEpochRecord,
  type GnnProgress,
  type GnnTrainHooks,
  type GnnTrainResult,
  trainGnn,
} from './train.ts';
