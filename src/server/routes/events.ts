import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { Event } from '../../core/events.ts';
import type { ServerContext } from '../context.ts';
import { claimsOf, requireSelf } from '../http/auth.ts';
import { HttpError } from '../http/errors.ts';
import {
  authErrors,
  bearer,
  errorSchema,
  eventSchema,
  MAX_BATCH_EVENTS,
  MAX_BODY_BYTES,
  storedEventSchema,
  userParams,
} from '../http/schemas.ts';

const MAX_PAGE = 1000;

/**
 * Event ingestion. A batch is stored in one transaction, idempotent by (userId, id), and answered only once
 * committed: a 200 means every event of the batch is durably stored, exactly once however often it is sent.
 */
export function eventRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  /** The per-user limit on event batches, when on. */
  rateLimit?: onRequestHookHandler,
): void {
  app.post<{ Body: { events: Event[] } }>(
    '/v1/events',
    {
      ...(rateLimit ? { onRequest: rateLimit } : {}),
      bodyLimit: MAX_BODY_BYTES,
      schema: {
        summary: 'Upload a batch of events (idempotent by event id)',
        tags: ['events'],
        security: bearer,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['events'],
          properties: {
            events: { type: 'array', minItems: 1, maxItems: MAX_BATCH_EVENTS, items: eventSchema },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              accepted: { type: 'integer', description: 'events stored now' },
              duplicates: {
                type: 'integer',
                description: 'events not stored because their id was stored before (conflicts included)',
              },
              conflicts: {
                type: 'array',
                items: { type: 'string' },
                description:
                  'ids stored before with other content: the stored event stays, the sent one is not stored; a client should set these events aside rather than resend them',
              },
            },
            required: ['accepted', 'duplicates', 'conflicts'],
          },
          ...authErrors,
          409: errorSchema,
          413: errorSchema,
          429: errorSchema,
        },
      },
    },
    async (request) => {
      const claims = claimsOf(request, ctx.signer);
      const { events } = request.body;
      const foreign = events.findIndex((e) => e.userId !== claims.sub);
      if (foreign >= 0 && claims.role !== 'admin')
        throw new HttpError(
          403,
          `events[${foreign}].userId is not this token's user; a user uploads only their own events`,
        );
      const users = new Set(events.map((e) => e.userId));
      for (const userId of users) {
        if ((await ctx.store.settings(userId)).privacy)
          throw new HttpError(
            409,
            `user ${userId} is in privacy mode: raw events stay on the device; sync the embedding instead`,
          );
      }
      const result = await ctx.store.insertEvents(events);
      ctx.metrics.eventsAccepted.inc(result.accepted);
      ctx.metrics.eventsDuplicate.inc(result.duplicates);
      ctx.metrics.eventsConflict.inc(result.conflicts.length);
      if (result.conflicts.length > 0)
        request.log.info({ conflicts: result.conflicts.length }, 'event ids re-sent with other content');
      return result;
    },
  );

  app.get<{ Params: { userId: string }; Querystring: { after: number; limit: number } }>(
    '/v1/users/:userId/events',
    {
      schema: {
        summary: "A user's stored events, oldest first, paged by seq",
        tags: ['events'],
        security: bearer,
        params: userParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            after: { type: 'integer', minimum: 0, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              events: { type: 'array', items: storedEventSchema },
              next: { type: 'integer', description: 'pass as `after` for the next page' },
            },
            required: ['events', 'next'],
          },
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { userId } = request.params;
      requireSelf(request, ctx.signer, userId);
      const { after, limit } = request.query;
      // Query coercion turns "1e400" into Infinity, which passes the schema's integer check: refuse it (and
      // integers past 2^53, which PostgreSQL's bigint cannot hold) here rather than as a 500 further down.
      for (const [name, value] of [['after', after] as const, ['limit', limit] as const]) {
        if (!Number.isSafeInteger(value))
          throw new HttpError(400, `querystring/${name} must be a safe integer, got ${String(value)}`);
      }
      const events = await ctx.store.eventsOf(userId, { afterSeq: after, limit });
      return { events, next: events.length > 0 ? events[events.length - 1].seq : after };
    },
  );
}
