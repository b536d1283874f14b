import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';
import { requireAdmin } from '../http/auth.ts';
import { authErrors, bearer } from '../http/schemas.ts';

export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness and readiness: the database answers', tags: ['ops'], hide: false } },
    async (request, reply) => {
      try {
        await ctx.store.ping();
      } catch (error) {
        // The driver's text may name hosts, users or files: it goes to the log, not to whoever asks.
        request.log.error({ err: error }, 'health check: the database does not answer');
        reply.code(503);
        return { status: 'unavailable', db: ctx.store.kind, message: 'the database does not answer' };
      }
      return { status: 'ok', db: ctx.store.kind, bundle: ctx.registry.latestVersion() ?? null };
    },
  );

  // Metrics name routes, rates and process internals: an admin token (Prometheus' `authorization`
  // scrape setting) guards them. One port and one auth rule keep deployment and scale-out simple.
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (admin token)',
        tags: ['ops'],
        security: bearer,
        response: authErrors,
      },
    },
    async (request, reply) => {
      requireAdmin(request, ctx.signer);
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
