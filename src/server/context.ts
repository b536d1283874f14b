import type { TokenSigner } from './auth/index.ts';
import type { ServerMetrics } from './metrics.ts';
import type { RefreshJob } from './refresh/index.ts';
import type { Registry } from './registry/index.ts';
import type { Store } from './store/index.ts';

/** What every route reads: built once per process by `buildServer`. */
export interface ServerContext {
  store: Store;
  signer: TokenSigner;
  registry: Registry;
  metrics: ServerMetrics;
  /** Absent when the server runs without a training run to re-embed users with. */
  refresh?: RefreshJob;
  /** Lifetime of the tokens `POST /v1/session` issues, in seconds. */
  tokenTtlSeconds: number;
  /** How long a session lasts from its first token, refreshes included, in seconds. */
  maxSessionSeconds: number;
}
