import type { CombineRule } from '../core/combine/index.ts';
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
  /**
   * How the embedding route combines the server's long-term embedding with the device-learned one into
   * `combined`, what another device of the user starts from (default DEFAULT_COMBINE_RULE).
   */
  combineRule?: CombineRule;
}
