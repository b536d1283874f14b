import { randomBytes } from 'node:crypto';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { TokenError } from '../auth/index.ts';
import type { ServerContext } from '../context.ts';
import { claimsOf, requireAdmin } from '../http/auth.ts';
import { HttpError } from '../http/errors.ts';
import { authErrors, bearer, errorSchema, sessionSchema } from '../http/schemas.ts';

interface SessionBody {
  userId?: string;
  role?: 'user' | 'admin';
  ttlSeconds?: number;
}

const MAX_TTL_SECONDS = 365 * 24 * 3600;

/**
 * Sessions: anyone may open an anonymous one (a fresh user id, as a device's first start does); only an
 * admin may issue a token for a named user or another admin. A valid user token may be renewed before
 * expiry, keeping its subject and role, until its session reaches `maxSessionSeconds` from its first
 * issue; admin tokens never renew (a leaked one dies at its own expiry).
 */
export function sessionRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  /** The per-IP limit on anonymous sessions, when on. */
  rateLimit?: onRequestHookHandler,
): void {
  app.post<{ Body: SessionBody | undefined }>(
    '/v1/session',
    {
      ...(rateLimit ? { onRequest: rateLimit } : {}),
      schema: {
        summary: 'Open a session: a new anonymous user, or (admin token) a token for a named user',
        tags: ['auth'],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            userId: { type: 'string', minLength: 1, maxLength: 256 },
            role: { type: 'string', enum: ['user', 'admin'] },
            ttlSeconds: { type: 'integer', minimum: 60, maximum: MAX_TTL_SECONDS },
          },
        },
        response: { 201: sessionSchema, ...authErrors, 429: errorSchema },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const named = body.userId !== undefined || body.role === 'admin' || body.ttlSeconds !== undefined;
      if (named) requireAdmin(request, ctx.signer);
      const userId = body.userId ?? `u-${randomBytes(12).toString('base64url')}`;
      const role = body.role ?? 'user';
      const issued = ctx.signer.issue(userId, role, body.ttlSeconds ?? ctx.tokenTtlSeconds);
      reply.code(201);
      return { userId, role, ...issued };
    },
  );

  app.post(
    '/v1/session/refresh',
    {
      schema: {
        summary:
          'Renew a valid user token: same user and role, a fresh expiry capped at the maximum session age from its first issue; admin tokens do not renew (403)',
        tags: ['auth'],
        security: bearer,
        response: { 201: sessionSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const claims = claimsOf(request, ctx.signer);
      if (claims.role === 'admin')
        throw new HttpError(403, 'admin tokens do not refresh: mint a new one with edgerec token --admin');
      const now = Date.now();
      const nowSeconds = Math.floor(now / 1000);
      // A token from before sessions carried their start begins its session now.
      const since = claims.since ?? nowSeconds;
      const ends = since + ctx.maxSessionSeconds;
      if (ends - nowSeconds < 60)
        throw new TokenError(
          `this session began at ${new Date(since * 1000).toISOString()} and has reached its maximum age of ${ctx.maxSessionSeconds} s: open a new session (POST /v1/session)`,
        );
      const ttl = Math.min(ctx.tokenTtlSeconds, ends - nowSeconds);
      reply.code(201);
      return {
        userId: claims.sub,
        role: claims.role,
        ...ctx.signer.issue(claims.sub, claims.role, ttl, now, since),
      };
    },
  );
}
