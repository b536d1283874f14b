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
export { ServerMetrics } from './metrics.ts';
export { Registry } from './registry/index.ts';
export {
  DEFAULT_PORT,
  DEFAULT_TOKEN_TTL_SECONDS,
  type RunningServer,
  type ServeOptions,
  startServer,
} from './serve.ts';
export { openStore, type Store } from './store/index.ts';
