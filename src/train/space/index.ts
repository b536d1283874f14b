export {
  BLEND_WEIGHTS,
  BlendRecommender,
  BlendSpace,
  blendFactors,
  chooseBlendWeight,
  concatenateScaled,
  ScoreMemo,
} from './blend.ts';
export { LightGcnSpace } from './lightgcn-space.ts';
export { loadRunBlend, loadUserSpace, pinnerFormerSpace, RUN_SPACE_FILES } from './load.ts';
export {
  chooseRetrievalModel,
  RETRIEVAL_MODELS,
  type RetrievalChoice,
  type RetrievalModel,
  type UserSpace,
} from './retrieval-space.ts';
