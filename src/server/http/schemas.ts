import { ACTIONS, EVENT_LIMITS } from '../../core/events.ts';

/** JSON Schemas of the API: fastify validates with them and @fastify/swagger turns them into OpenAPI. */

export const MAX_BATCH_EVENTS = 500;
/** Bodies are capped well under what a batch of 500 events needs at most (~256 kB at the id limits). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** PinnerFormer's widest sensible embedding; real ones are 64. */
export const MAX_EMBEDDING_DIM = 1024;

const id = { type: 'string', minLength: 1, maxLength: EVENT_LIMITS.idLength } as const;

export const errorSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
  required: ['statusCode', 'error', 'message'],
} as const;

export const eventSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'userId', 'itemId', 'action', 'ts'],
  properties: {
    id: { ...id, description: 'client-made unique id; the server deduplicates on (userId, id)' },
    userId: id,
    itemId: id,
    action: { type: 'string', enum: [...ACTIONS] },
    ts: { type: 'number', minimum: 0, maximum: EVENT_LIMITS.ts, description: 'ms since the Unix epoch' },
    surface: { type: 'string', maxLength: EVENT_LIMITS.surfaceLength },
    dwellMs: { type: 'number', minimum: 0, maximum: EVENT_LIMITS.dwellMs },
  },
} as const;

export const storedEventSchema = {
  ...eventSchema,
  required: [...eventSchema.required, 'seq'],
  properties: { ...eventSchema.properties, seq: { type: 'integer' } },
} as const;

export const vectorSchema = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_EMBEDDING_DIM,
  items: { type: 'number' },
} as const;

export const serverEmbeddingSchema = {
  type: 'object',
  properties: {
    vector: vectorSchema,
    modelVersion: { type: 'string' },
    eventSeq: { type: 'integer' },
    updatedAt: { type: 'number' },
  },
  required: ['vector', 'modelVersion', 'eventSeq', 'updatedAt'],
} as const;

export const deviceEmbeddingSchema = {
  type: 'object',
  properties: {
    vector: vectorSchema,
    modelVersion: { type: 'string' },
    version: { type: 'integer' },
    updatedAt: { type: 'number' },
  },
  required: ['vector', 'modelVersion', 'version', 'updatedAt'],
} as const;

export const combinedEmbeddingSchema = {
  type: 'object',
  description:
    "The server's and the device's embeddings combined by the server's rule (--combine): where another device of the user starts",
  properties: {
    vector: vectorSchema,
    modelVersion: { type: 'string' },
    rule: { type: 'string', description: 'server, device, newest, or the weight of the device embedding' },
    from: { type: 'string', enum: ['server', 'device', 'both'] },
  },
  required: ['vector', 'modelVersion', 'rule', 'from'],
} as const;

export const userParams = {
  type: 'object',
  additionalProperties: false,
  required: ['userId'],
  properties: { userId: id },
} as const;

export const sessionSchema = {
  type: 'object',
  properties: {
    userId: { type: 'string' },
    token: { type: 'string' },
    expiresAt: { type: 'number', description: 'ms since the Unix epoch' },
    role: { type: 'string', enum: ['user', 'admin'] },
  },
  required: ['userId', 'token', 'expiresAt', 'role'],
} as const;

export const settingsSchema = {
  type: 'object',
  properties: {
    privacy: { type: 'boolean' },
    updatedAt: { type: 'number' },
  },
  required: ['privacy', 'updatedAt'],
} as const;

export const bearer = [{ bearer: [] as string[] }];

/** The 4xx answers every authenticated route may give, for the OpenAPI document. */
export const authErrors = { 400: errorSchema, 401: errorSchema, 403: errorSchema } as const;
