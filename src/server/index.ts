export { type BuildServerOptions, buildServer } from './app.ts';
export {
  loadSecret,
  type Role,
  SECRET_ENV,
  type TokenClaims,
  TokenError,
  TokenSigner,
} from './auth/index.ts';
export type { ServerContext } from './context.ts';
export { DEFAULT_RATE_LIMITS, DEFAULT_TIMEOUTS, type RateLimits, type Timeouts } from './http/limits.ts';
export { ServerMetrics } from './metrics.ts';
export { Registry } from './registry/index.ts';
export {
  DEFAULT_MAX_SESSION_SECONDS,
  DEFAULT_PORT,
  DEFAULT_TOKEN_TTL_SECONDS,
  type RunningServer,
  type ServeOptions,
  startServer,
} from './serve.ts';
export { openStore, type Store } from './store/index.ts';
