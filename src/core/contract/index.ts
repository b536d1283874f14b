export {
  type EngineApi,
  engineIdentity,
  type ForwardedCalls,
  forwardCalls,
  type SharedEngineApi,
} from './api.ts';
export {
  isRetriableStatus,
  parseRetryAfter,
  registryUrl,
  SyncHttp,
  SyncHttpError,
  type SyncHttpOptions,
  SyncNetworkError,
  serverRoot,
} from './http.ts';
export { createSession, refreshSession, type Session } from './session.ts';
export type * from './types.ts';
