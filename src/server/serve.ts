import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import { type CombineRule, DEFAULT_COMBINE_RULE, validCombineRule } from '../core/combine/index.ts';
import { InputError } from '../core/errors.ts';
import { buildServer } from './app.ts';
import { loadSecret, TokenSigner } from './auth/index.ts';
import type { ServerContext } from './context.ts';
import type { RateLimits, Timeouts } from './http/limits.ts';
import { ServerMetrics } from './metrics.ts';
import { openRefreshJob, type RefreshJob } from './refresh/index.ts';
import { cleanStaleUploads, Registry } from './registry/index.ts';
import { openStore, type Store } from './store/index.ts';

export const DEFAULT_PORT = 8787;
export const DEFAULT_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/** A session (an anonymous device's identity included) ends this long after its first token. */
export const DEFAULT_MAX_SESSION_SECONDS = 365 * 24 * 3600;
/** Upload folders untouched this long are left over from failed publishes (not uploads in flight). */
export const STALE_UPLOAD_MS = 3600_000;

export interface ServeOptions {
  host: string;
  port: number;
  /** SQLite file, token secret (unless EDGEREC_SECRET) and other local state. */
  dataDir: string;
  /** PostgreSQL instead of SQLite; `edgerec serve` takes it from DATABASE_URL. */
  databaseUrl?: string;
  modelsDir: string;
  /** The training run whose PinnerFormer re-embeds users; no refresh job without one. */
  runDir?: string;
  /** Whether a missing `runDir` is an error (given explicitly) or just means no refresh job (the default). */
  requireRun?: boolean;
  refreshMinutes: number;
  tokenTtlSeconds?: number;
  maxSessionSeconds?: number;
  /** The embedding route's combining rule (default DEFAULT_COMBINE_RULE, the replay's validation choice). */
  combineRule?: CombineRule;
  rateLimits?: Partial<RateLimits>;
  timeouts?: Partial<Timeouts>;
  logger?: FastifyServerOptions['logger'];
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  context: ServerContext;
  /** Stops accepting, finishes in-flight requests (their writes commit), stops the job, closes the store. */
  close(): Promise<void>;
}

/** Opens everything the server needs, listens, and returns a handle whose close() shuts down cleanly. */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const store: Store = await openStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  let refresh: RefreshJob | undefined;
  try {
    const signer = new TokenSigner(loadSecret(join(options.dataDir, 'server-secret')));
    const registry = new Registry(options.modelsDir);
    const metrics = new ServerMetrics();
    const context: ServerContext = {
      store,
      signer,
      registry,
      metrics,
      tokenTtlSeconds: options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS,
      maxSessionSeconds: options.maxSessionSeconds ?? DEFAULT_MAX_SESSION_SECONDS,
      combineRule: validCombineRule(options.combineRule ?? DEFAULT_COMBINE_RULE),
    };
    const app = await buildServer({
      context,
      logger: options.logger,
      rateLimits: options.rateLimits,
      timeouts: options.timeouts,
    });
    const removed = cleanStaleUploads(options.modelsDir, STALE_UPLOAD_MS);
    if (removed.length > 0) app.log.warn({ removed }, 'removed upload folders of failed publishes');
    if (options.runDir && (options.requireRun || existsSync(options.runDir))) {
      try {
        refresh = await openRefreshJob({
          store,
          runDir: options.runDir,
          modelsDir: options.modelsDir,
          intervalMinutes: options.refreshMinutes,
          // Encoding runs on the event loop: small batches keep each pause near 0.1 s.
          batchUsers: 64,
          log: app.log,
        });
      } catch (error) {
        // A run found by default that does not match the published bundle only turns the job off.
        if (options.requireRun || !(error instanceof InputError)) throw error;
        app.log.warn({ reason: (error as Error).message }, 'refresh job off');
      }
    }
    if (refresh) {
      context.refresh = refresh;
      metrics.watchRefresh(refresh);
    }
    const url = await app.listen({ host: options.host, port: options.port });
    refresh?.start();
    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= (async () => {
        await app.close();
        await refresh?.stop();
        await store.close();
      })();
      return closing;
    };
    return { app, url, context, close };
  } catch (error) {
    await refresh?.stop();
    await store.close();
    throw error;
  }
}
