/** On-device learning in the engine: tfjs backend choice (webgpu, wasm, cpu) and the learner off the request path. */
export { type BackendChoice, chooseBackend, LEARNING_BACKENDS, type LearningBackend } from './backend.ts';
export {
  DeviceLearner,
  type LearnerModel,
  type LearnerOptions,
  type LearnerStorage,
  type LearningStatus,
  learnedVector,
} from './learner.ts';
