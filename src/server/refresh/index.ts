/** The server's refresh job: re-embeds users with new events using the global PinnerFormer, on a cadence. */
export { type EncoderInput, runItemsFile, sha256OfFile, UserEncoder } from './encoder.ts';
export {
  type RefreshEncoder,
  RefreshJob,
  type RefreshJobOptions,
  type RefreshLogger,
  type RefreshResult,
} from './job.ts';
export {
  BundleMismatchError,
  type MatchedBundle,
  matchLatestBundle,
} from './model-version.ts';
export { type OpenRefreshJobOptions, openRefreshJob } from './open.ts';
