export {
  DEFAULT_PINNERFORMER_OPTIONS,
  type PinnerFormerOptions,
  TRAINING_OBJECTIVES,
  type TrainingObjective,
} from './config.ts';
export { type ItemFeatures, PinnerFormerModel } from './model.ts';
export { loadPinnerFormer, savePinnerFormer } from './persist.ts';
export { PinnerFormerRecommender } from './recommender.ts';
export { type ActionSequence, actionSequences, sequenceFromEvents, sequenceFromItems } from './sequences.ts';
export {
  type EpochRecord,
  type TimeCut,
  type TrainHooks,
  type TrainProgress,
  type TrainResult,
  trainPinnerFormer,
} from './trainer.ts';
