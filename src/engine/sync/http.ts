// The sync server's HTTP client is shared with the SDK's session calls: src/core/contract.
export {
  isRetriableStatus,
  registryUrl,
  SyncHttp,
  SyncHttpError,
  type SyncHttpOptions,
  SyncNetworkError,
  serverRoot,
} from '../../core/contract/http.ts';
