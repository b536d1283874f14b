import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ManifestError } from '../../core/bundle/index.ts';
import { InputError } from '../../core/errors.ts';
import { TokenError } from '../auth/index.ts';
import { RegistryConflictError } from '../registry/index.ts';

/** An error a route throws on purpose, with the status it means. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly details?: Record<string, unknown>;
  constructor(statusCode: number, message: string, details?: Record<string, unknown>) {
    super(message);
    this.statusCode = statusCode;
    this.details = details;
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function statusOf(error: FastifyError): number {
  if (error instanceof HttpError) return error.statusCode;
  if (error instanceof TokenError) return 401;
  if (error instanceof RegistryConflictError) return 409;
  if (error instanceof InputError || error instanceof ManifestError) return 400;
  if (error.validation) return 400;
  const code = error.statusCode ?? 500;
  return code >= 400 && code < 600 ? code : 500;
}

/** `body/events/0/ts must be number`, naming an unknown field too (ajv's own text does not). */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const where = `${error.validationContext ?? 'request'}${first.instancePath}`;
  const extra = (first.params as { additionalProperty?: string }).additionalProperty;
  return extra !== undefined
    ? `${where} has an unknown field "${String(extra).slice(0, 64)}"`
    : `${where} ${first.message ?? 'is invalid'}`;
}

/**
 * One error shape for every route: `{ statusCode, error, message }` (plus details such as a 409's
 * current version). A 4xx says what was wrong with the request; a 5xx is logged with its stack and tells
 * the client nothing internal.
 */
export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const statusCode = statusOf(error);
  if (statusCode >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ statusCode, reason: error.message }, 'request refused');
  const message =
    statusCode >= 500
      ? 'internal error; the server logged it'
      : error.validation
        ? validationMessage(error)
        : error.message;
  const details = error instanceof HttpError ? error.details : undefined;
  if (error instanceof TokenError) reply.header('www-authenticate', 'Bearer error="invalid_token"');
  reply
    .code(statusCode)
    .type('application/json; charset=utf-8')
    .send({ statusCode, error: REASONS[statusCode] ?? 'Error', message, ...details });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  reply.code(404).send({
    statusCode: 404,
    error: 'Not Found',
    message: `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}; see /v1/openapi.json`,
  });
}
