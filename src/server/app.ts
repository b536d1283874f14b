import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ServerContext } from './context.ts';
import { errorHandler, HttpError, notFoundHandler } from './http/errors.ts';
import { MAX_BODY_BYTES } from './http/schemas.ts';
import { validatorCompiler } from './http/validation.ts';
import { adminRoutes } from './routes/admin.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { registryRoutes } from './routes/registry.ts';
import { sessionRoutes } from './routes/session.ts';
import { userRoutes } from './routes/users.ts';

export interface BuildServerOptions {
  context: ServerContext;
  /** pino options, `false` for silence (tests), `true` for JSON lines on stdout. */
  logger?: FastifyServerOptions['logger'];
  /** Origins allowed to call the API from a browser (default any: tokens travel in a header, not cookies). */
  corsOrigin?: string | string[] | boolean;
}

/** The HTTP API of the sync server, not yet listening: `edgerec serve` listens; tests use `inject`. */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  const ctx = options.context;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: MAX_BODY_BYTES,
    // A request id per request, echoed to the client, ties a client's report to the server's log line.
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    ctx.metrics.requests
      .labels(request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });

  // A preflight the CORS plugin refuses gets its plain-text 400; answer it in the API's error shape instead.
  app.addHook('onRequest', async (request) => {
    const { origin, 'access-control-request-method': method } = request.headers;
    if (request.method === 'OPTIONS' && (!origin || !method))
      throw new HttpError(400, 'a CORS preflight needs Origin and Access-Control-Request-Method headers');
  });
  await app.register(cors, {
    origin: options.corsOrigin ?? true,
    methods: ['GET', 'HEAD', 'POST', 'PUT'],
    allowedHeaders: ['authorization', 'content-type', 'if-none-match', 'range', 'x-request-id'],
    exposedHeaders: ['etag', 'content-range', 'accept-ranges', 'x-request-id'],
    maxAge: 600,
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'edgerec sync server',
        version: '1',
        description: 'Model registry, event ingestion and embedding sync for on-device recommenders.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  healthRoutes(app, ctx);
  sessionRoutes(app, ctx);
  eventRoutes(app, ctx);
  userRoutes(app, ctx);
  registryRoutes(app, ctx);
  await adminRoutes(app, ctx);
  return app;
}
