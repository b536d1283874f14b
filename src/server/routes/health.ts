import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';

export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness and readiness: the database answers', tags: ['ops'], hide: false } },
    async (_request, reply) => {
      try {
        await ctx.store.ping();
      } catch (error) {
        reply.code(503);
        return { status: 'unavailable', db: ctx.store.kind, message: (error as Error).message };
      }
      return { status: 'ok', db: ctx.store.kind, bundle: ctx.registry.latestVersion() ?? null };
    },
  );

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['ops'] } },
    async (_request, reply) => {
      reply.type(ctx.metrics.registry.contentType);
      return ctx.metrics.registry.metrics();
    },
  );

  app.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
