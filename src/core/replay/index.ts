/** The replay evaluation: held-out users' events in time order through the feed pipeline, scored per request. */
export { type LearnedVariantOptions, learnedVariant } from './learned.ts';
export {
  chooseLearning,
  LEARNING_CHOICE_DEFAULTS,
  LEARNING_GRID,
  type LearningChoiceOptions,
} from './learning-choice.ts';
export {
  REPLAY_METRICS,
  type ReplayMetric,
  realisedGain,
  type SessionTruth,
  slateMetrics,
  UserMeans,
  utilityNdcgAt,
} from './metrics.ts';
export { namedVariant } from './named.ts';
export {
  buildReplayPack,
  REPLAY_PACK_FORMAT,
  type ReplayPack,
  replayInputFromPack,
  replayPackFile,
  replaySample,
} from './pack.ts';
export {
  deviceState,
  hasIgnoredImpressions,
  REPLAY_DEFAULTS,
  type ReplayInput,
  type ReplayOptions,
  type ReplayReport,
  type ReplayRow,
  runReplay,
  standInImpressions,
} from './replay.ts';
export { type RunModel, replayRunners } from './runners.ts';
export { type SecondDeviceOptions, secondDeviceVariant } from './second-device.ts';
export { REPLAY_SESSION_GAP_MS, type ReplaySession, replaySessions, sessionTruth } from './sessions.ts';
export {
  isLearnedVariant,
  isNamedVariant,
  LEARNED_VARIANTS,
  type LearnedVariantName,
  NAMED_VARIANTS,
  type NamedVariant,
} from './variant-names.ts';
export {
  BUILT_IN_VARIANTS,
  type BuiltInVariant,
  blendVariant,
  builtInVariant,
  multiVariant,
  type ReplayDevice,
  type ReplayEvent,
  type ReplayUser,
  type ReplayVariant,
  serverVariant,
} from './variants.ts';
