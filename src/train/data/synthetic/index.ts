export {
  BOARD_MAX_PINS,
  BOARD_MIN_PINS,
  DEFAULT_SYNTHETIC_OPTIONS,
  generateSynthetic,
  generateSyntheticWithTruth,
  resolveSyntheticOptions,
  type SyntheticOptions,
  type SyntheticSummary,
  type SyntheticTruth,
  summarizeSynthetic,
} from './generate.ts';
export {
  makeTitle,
  TITLE_ADJECTIVES,
  TITLE_SEASONS,
  TOPIC_VOCABULARY,
  type TopicVocabulary,
  topicName,
  topicVocabulary,
} from './vocabulary.ts';
