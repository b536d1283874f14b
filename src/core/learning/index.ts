/** On-device learning of the user embedding from local feedback (tfjs; the backend is the caller's). */

export {
  bundleLearningChoice,
  type LearningCandidate,
  type LearningChoice,
  learningChoiceOf,
} from './bundle-choice.ts';
export { type LearningEvent, type LearningExamples, learningExamples } from './examples.ts';
export { type LearningRun, learnFromEvents } from './learn.ts';
export { DEFAULT_LEARNED_WEIGHT, DEFAULT_LEARNING_OPTIONS, type LearningOptions } from './options.ts';
export { softmaxPart } from './softmax-part.ts';
export { type LearnedEmbedding, learnEmbedding, type Tf } from './step.ts';
