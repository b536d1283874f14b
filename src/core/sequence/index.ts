export {
  type ActionWindow,
  type EncoderInput,
  encoderInput,
  type RowWriter,
  tableRows,
} from './encoder-input.ts';
export { ACTION_TYPES, TIME_FEATURES, TIME_PERIODS_HOURS, timeFeatures } from './time-features.ts';
