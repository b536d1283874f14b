export { type BprBatch, bprLossAndGradient, type GradientScratch } from './bpr-gradient.ts';
export { type LightGcnOptions, LightGcnRecommender } from './lightgcn.ts';
export { normalizedAdjacency, Propagation } from './propagation.ts';
