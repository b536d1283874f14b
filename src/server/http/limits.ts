import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { TokenSigner } from '../auth/index.ts';
import { HttpError } from './errors.ts';

/** Request rates the server accepts; a limit of 0 turns that limit off. */
export interface RateLimits {
  /** `POST /v1/session` without an admin token (a new anonymous user), per client IP and window. */
  anonymousSessionsPerIp: number;
  /** `POST /v1/events` batches per user (the token's subject) and window; admin tokens are not limited. */
  eventBatchesPerUser: number;
  windowMs: number;
}

/**
 * A device opens one anonymous session in its life and flushes a batch every few seconds at most, so these
 * leave a shared NAT address and a busy user far from the limit while stopping a script that mints users
 * or floods the event table.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = {
  anonymousSessionsPerIp: 60,
  eventBatchesPerUser: 120,
  windowMs: 60_000,
};

/** Connection timeouts, in milliseconds. */
export interface Timeouts {
  /** The whole request (headers and body) must arrive within this; generous for bundle uploads. */
  requestMs: number;
  /** The request headers must arrive within this. */
  headersMs: number;
  /** A socket with no traffic either way for this long is closed: a stalled body or a silent client. */
  idleMs: number;
  /**
   * An idle keep-alive connection is closed after this. Longer than the 60 s idle timeout of common load
   * balancers: a server that closes first races the balancer's next request on that connection (a 502).
   */
  keepAliveMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  requestMs: 300_000,
  headersMs: 20_000,
  idleMs: 30_000,
  keepAliveMs: 72_000,
};

export interface RateLimitHooks {
  anonymousSessions?: onRequestHookHandler;
  eventBatches?: onRequestHookHandler;
}

function tokenOf(request: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
}

/**
 * Registers @fastify/rate-limit (in-memory, so per server process: N processes allow N times the rate)
 * and returns the onRequest hooks the limited routes run, before their body is even read. A refusal is a
 * 429 in the API's error shape, with `Retry-After` in seconds.
 */
export async function rateLimitHooks(
  app: FastifyInstance,
  limits: RateLimits,
  signer: TokenSigner,
): Promise<RateLimitHooks> {
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, `too many requests: at most ${context.max} per ${context.after}; retry later`),
  });
  const claims = (request: FastifyRequest) => {
    const token = tokenOf(request);
    if (!token) return undefined;
    try {
      return signer.verify(token);
    } catch {
      return undefined;
    }
  };
  const isAdmin = (request: FastifyRequest) => claims(request)?.role === 'admin';
  const hooks: RateLimitHooks = {};
  if (limits.anonymousSessionsPerIp > 0)
    hooks.anonymousSessions = app.rateLimit({
      max: limits.anonymousSessionsPerIp,
      timeWindow: limits.windowMs,
      keyGenerator: (request) => `session-ip:${request.ip}`,
      allowList: isAdmin,
    });
  if (limits.eventBatchesPerUser > 0)
    hooks.eventBatches = app.rateLimit({
      max: limits.eventBatchesPerUser,
      timeWindow: limits.windowMs,
      // A request with no valid token is refused with 401 by the route; until then its IP stands in.
      keyGenerator: (request) => {
        const sub = claims(request)?.sub;
        return sub === undefined ? `events-ip:${request.ip}` : `events-user:${sub}`;
      },
      allowList: isAdmin,
    });
  return hooks;
}
