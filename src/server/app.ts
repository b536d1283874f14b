import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { ServerContext } from './context.ts';
import { errorHandler, HttpError, notFoundHandler } from './http/errors.ts';
import {
  DEFAULT_RATE_LIMITS,
  DEFAULT_TIMEOUTS,
  type RateLimits,
  rateLimitHooks,
  type Timeouts,
} from './http/limits.ts';
import { loggerOptions, requestIdOf } from './http/logging.ts';
import { MAX_BODY_BYTES } from './http/schemas.ts';
import { checkUrlStrings, parseJsonBody } from './http/strings.ts';
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
  /** Per-IP and per-user request rates (default DEFAULT_RATE_LIMITS; load tests turn them off with 0). */
  rateLimits?: Partial<RateLimits>;
  /** Connection timeouts (default DEFAULT_TIMEOUTS). */
  timeouts?: Partial<Timeouts>;
}

/** The HTTP API of the sync server, not yet listening: `edgerec serve` listens; tests use `inject`. */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  const ctx = options.context;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const app = Fastify({
    logger: loggerOptions(options.logger ?? false),
    bodyLimit: MAX_BODY_BYTES,
    // A request id per request, echoed to the client, ties a client's report to the server's log line.
    requestIdHeader: false,
    genReqId: requestIdOf,
    routerOptions: { maxParamLength: 256 },
    return503OnClosing: true,
    // Without these, a client that sends half a body and stops holds its connection open forever.
    requestTimeout: timeouts.requestMs,
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    // Errors the router raises before any route runs (a bad URL, a too-long parameter) take the same path.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
  });
  app.server.headersTimeout = Math.min(timeouts.headersMs, timeouts.requestMs || timeouts.headersMs);
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // One JSON parser for every route: valid UTF-8, storable strings, no prototype keys (see strings.ts).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // The same rule for path parameters and query strings, on every route, before its schema runs.
  app.addHook('preValidation', async (request) => {
    checkUrlStrings(request.params, request.query);
  });
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
  await app.register(helmet, {
    // The API serves JSON and model files, never pages: nothing may run, frame or embed them.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    // Browsers on other origins call the API and fetch bundle files (with CORS): let them read responses.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    crossOriginEmbedderPolicy: false,
  });
  await app.register(cors, {
    origin: options.corsOrigin ?? true,
    methods: ['GET', 'HEAD', 'POST', 'PUT'],
    allowedHeaders: ['authorization', 'content-type', 'if-none-match', 'if-range', 'range', 'x-request-id'],
    exposedHeaders: ['etag', 'content-range', 'accept-ranges', 'retry-after', 'x-request-id'],
    maxAge: 600,
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'edgerec sync server',
        version: '1',
        description:
          'Model registry, event ingestion and embedding sync for on-device recommenders. Every error is `{statusCode, error, message}`; strings holding U+0000 or a lone surrogate, and the keys __proto__, constructor and prototype, are refused with 400 on every route; 429 answers carry Retry-After.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  const limits = await rateLimitHooks(app, { ...DEFAULT_RATE_LIMITS, ...options.rateLimits }, ctx.signer);
  healthRoutes(app, ctx);
  sessionRoutes(app, ctx, limits.anonymousSessions);
  eventRoutes(app, ctx, limits.eventBatches);
  userRoutes(app, ctx);
  registryRoutes(app, ctx);
  await adminRoutes(app, ctx);
  return app;
}
