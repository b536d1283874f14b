export { LightGcnSpace } from './lightgcn-space.ts';
export { loadUserSpace, pinnerFormerSpace, RUN_SPACE_FILES } from './load.ts';
export {
  chooseRetrievalModel,
  RETRIEVAL_MODELS,
  type RetrievalChoice,
  type RetrievalModel,
  type UserSpace,
} from './retrieval-space.ts';
