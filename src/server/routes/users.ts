import type { FastifyInstance } from 'fastify';
import { combinedEmbedding } from '../combined-embedding.ts';
import type { ServerContext } from '../context.ts';
import { requireSelf } from '../http/auth.ts';
import { HttpError } from '../http/errors.ts';
import {
  authErrors,
  bearer,
  combinedEmbeddingSchema,
  deviceEmbeddingSchema,
  errorSchema,
  serverEmbeddingSchema,
  settingsSchema,
  userParams,
  vectorSchema,
} from '../http/schemas.ts';
import type { DeviceEmbeddingWrite } from '../store/index.ts';

type UserRequest = { Params: { userId: string } };

const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });

/** Per-user state: the two embeddings (the server's long-term one, the device-learned one) and settings. */
export function userRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<UserRequest>(
    '/v1/users/:userId/embedding',
    {
      schema: {
        summary:
          "The server's long-term embedding of the user, the last device-learned one, and the two combined by the server's rule",
        tags: ['embeddings'],
        security: bearer,
        params: userParams,
        response: {
          200: {
            type: 'object',
            properties: {
              userId: { type: 'string' },
              server: nullable(serverEmbeddingSchema),
              device: nullable(deviceEmbeddingSchema),
              combined: nullable(combinedEmbeddingSchema),
            },
            required: ['userId', 'server', 'device', 'combined'],
          },
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { userId } = request.params;
      requireSelf(request, ctx.signer, userId);
      const [server, device] = await Promise.all([
        ctx.store.serverEmbedding(userId),
        ctx.store.deviceEmbedding(userId),
      ]);
      const combined = combinedEmbedding(server, device, ctx.combineRule);
      return { userId, server: server ?? null, device: device ?? null, combined: combined ?? null };
    },
  );

  app.put<UserRequest & { Body: DeviceEmbeddingWrite }>(
    '/v1/users/:userId/embedding',
    {
      schema: {
        summary:
          'Store the device-learned embedding; a stale baseVersion is answered 409 with the current one',
        tags: ['embeddings'],
        security: bearer,
        params: userParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['vector', 'modelVersion', 'baseVersion'],
          properties: {
            vector: vectorSchema,
            modelVersion: { type: 'string', minLength: 1, maxLength: 128 },
            baseVersion: {
              type: 'integer',
              minimum: 0,
              description: 'the version this write replaces: 0 when the device has seen none',
            },
          },
        },
        response: {
          200: { type: 'object', properties: { device: deviceEmbeddingSchema }, required: ['device'] },
          ...authErrors,
          409: {
            ...errorSchema,
            properties: { ...errorSchema.properties, current: nullable(deviceEmbeddingSchema) },
          },
        },
      },
    },
    async (request) => {
      const { userId } = request.params;
      requireSelf(request, ctx.signer, userId);
      const write = request.body;
      if (!write.vector.every(Number.isFinite))
        throw new HttpError(400, 'body/vector must hold finite numbers');
      const result = await ctx.store.putDeviceEmbedding(userId, write);
      if (!result.ok) {
        ctx.metrics.embeddingConflicts.inc();
        const version = result.current?.version ?? 0;
        throw new HttpError(
          409,
          `stale write: baseVersion ${write.baseVersion}, but the current version is ${version}; merge with current and retry with baseVersion ${version}`,
          { current: result.current ?? null },
        );
      }
      return { device: result.current };
    },
  );

  app.get<UserRequest>(
    '/v1/users/:userId/settings',
    {
      schema: {
        summary: "The user's settings (privacy mode)",
        tags: ['users'],
        security: bearer,
        params: userParams,
        response: { 200: settingsSchema, ...authErrors },
      },
    },
    async (request) => {
      requireSelf(request, ctx.signer, request.params.userId);
      return ctx.store.settings(request.params.userId);
    },
  );

  app.put<UserRequest & { Body: { privacy: boolean } }>(
    '/v1/users/:userId/settings',
    {
      schema: {
        summary: 'Change settings. Turning privacy mode on deletes the raw events the server holds',
        tags: ['users'],
        security: bearer,
        params: userParams,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['privacy'],
          properties: { privacy: { type: 'boolean' } },
        },
        response: {
          200: {
            ...settingsSchema,
            properties: { ...settingsSchema.properties, deletedEvents: { type: 'integer' } },
          },
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { userId } = request.params;
      requireSelf(request, ctx.signer, userId);
      const settings = await ctx.store.putSettings(userId, { privacy: request.body.privacy });
      // Privacy mode means raw events never live on the server, including ones uploaded before.
      const deletedEvents = settings.privacy ? await ctx.store.deleteEventsOf(userId) : 0;
      return { ...settings, deletedEvents };
    },
  );
}
