/** The client half of the sync server: outbox upload, embedding sync both ways, privacy mode, sessions. */
export { BACKOFF_BASE_MS, BACKOFF_CAP_MS, fullJitter, parseRetryAfter, retryDelay } from './backoff.ts';
export { SyncClient, type SyncClientOptions, syncMetaKey } from './client.ts';
export { emptyUserState, sameVector } from './embedding.ts';
export {
  isRetriableStatus,
  registryUrl,
  SyncHttp,
  SyncHttpError,
  SyncNetworkError,
  serverRoot,
} from './http.ts';
export {
  drainOutbox,
  eventIndexIn,
  isEventRefusal,
  MAX_BATCH_BYTES,
  MAX_REFUSED_PER_PASS,
  OUTBOX_BATCH,
  ServerPrivacyError,
  SyncContractError,
} from './outbox.ts';
export { createSession, refreshSession, type Session } from './session.ts';
export {
  type DeviceEmbedding,
  type EmbeddingDetail,
  type EmbeddingOutcome,
  type SyncClock,
  type SyncMeta,
  type SyncPassResult,
  type SyncState,
  type SyncStatus,
  type SyncStorage,
  systemClock,
} from './types.ts';
