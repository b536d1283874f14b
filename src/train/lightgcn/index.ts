export { type LightGcnOptions, LightGcnRecommender } from './lightgcn.ts';
export { normalizedAdjacency, Propagation } from './propagation.ts';
