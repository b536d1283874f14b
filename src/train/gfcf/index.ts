export { type GfcfOptions, GfcfRecommender } from './gfcf.ts';
export { type RandomizedSvdOptions, randomizedSvd } from './randomized-svd.ts';
export { symmetricEigen } from './symmetric-eigen.ts';
