import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';
import { claimsOf, requireAdmin } from '../http/auth.ts';
import { authErrors, bearer, sessionSchema } from '../http/schemas.ts';

interface SessionBody {
  userId?: string;
  role?: 'user' | 'admin';
  ttlSeconds?: number;
}

const MAX_TTL_SECONDS = 365 * 24 * 3600;

/**
 * Sessions: anyone may open an anonymous one (a fresh user id, as a device's first start does); only an
 * admin may issue a token for a named user or another admin; a valid token may be renewed before expiry.
 */
export function sessionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: SessionBody | undefined }>(
    '/v1/session',
    {
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
        response: { 201: sessionSchema, ...authErrors },
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
        summary: 'Renew a valid token with a fresh expiry',
        tags: ['auth'],
        security: bearer,
        response: { 201: sessionSchema, ...authErrors },
      },
    },
    async (request, reply) => {
      const claims = claimsOf(request, ctx.signer);
      reply.code(201);
      return {
        userId: claims.sub,
        role: claims.role,
        ...ctx.signer.issue(claims.sub, claims.role, ctx.tokenTtlSeconds),
      };
    },
  );
}
