export { type Configuration, expandGrid, MAX_CONFIGURATIONS, type OptionSpec, parseGrid } from './grid.ts';
export { TUNABLE, TUNABLE_MODELS, type TunableModel } from './models.ts';
export {
  defaultMetric,
  type TuneOptions,
  type TuneProgress,
  type TuneProtocol,
  type TuneResult,
  type TuneRow,
  tune,
} from './run.ts';
export { TestStageAccessError, validationStageOnly } from './validation-split.ts';
