import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.ts';
import { requireAdmin } from '../http/auth.ts';
import { HttpError } from '../http/errors.ts';
import { authErrors, bearer, errorSchema } from '../http/schemas.ts';
import { publishUploaded, receiveFile } from '../registry/index.ts';

/** The largest file an upload may carry: a 1M × 256 f32 item table, with room to spare. */
const MAX_UPLOAD_BYTES = 2 * 1024 ** 3;
const segment = { type: 'string', minLength: 1, maxLength: 128 } as const;

/**
 * Admin-only routes: publishing a bundle (upload each file, then publish its manifest, which flips
 * `latest.json` atomically) and running the refresh job now.
 */
export async function adminRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  await app.register(async (admin) => {
    // Uploads stream to disk as they arrive: a 256 MB table never sits in memory.
    admin.addContentTypeParser(
      'application/octet-stream',
      { bodyLimit: MAX_UPLOAD_BYTES },
      (_req, payload, done) => done(null, payload),
    );
    admin.addHook('onRequest', async (request) => {
      requireAdmin(request, ctx.signer);
    });

    admin.put<{ Params: { version: string; file: string }; Body: Readable }>(
      '/v1/admin/bundles/:version/files/:file',
      {
        bodyLimit: MAX_UPLOAD_BYTES,
        schema: {
          summary: 'Upload one file of a bundle about to be published (application/octet-stream)',
          tags: ['admin'],
          security: bearer,
          params: {
            type: 'object',
            required: ['version', 'file'],
            properties: { version: segment, file: segment },
          },
          response: {
            201: {
              type: 'object',
              properties: {
                file: { type: 'string' },
                bytes: { type: 'integer' },
                sha256: { type: 'string' },
              },
            },
            ...authErrors,
            409: errorSchema,
            415: errorSchema,
          },
        },
      },
      async (request, reply) => {
        if (typeof (request.body as Readable | undefined)?.pipe !== 'function')
          throw new HttpError(415, 'upload the file as Content-Type: application/octet-stream');
        const { version, file } = request.params;
        const stored = await receiveFile(ctx.registry.dir, version, file, request.body);
        reply.code(201);
        return stored;
      },
    );

    admin.post<{ Params: { version: string }; Body: unknown }>(
      '/v1/admin/bundles/:version/publish',
      {
        bodyLimit: 16 * 1024 * 1024,
        schema: {
          summary: "Publish an uploaded bundle: the body is its manifest; every file's sha256 is checked",
          tags: ['admin'],
          security: bearer,
          params: { type: 'object', required: ['version'], properties: { version: segment } },
          body: { type: 'object' },
          response: {
            200: { type: 'object', properties: { version: { type: 'string' } }, required: ['version'] },
            ...authErrors,
            409: errorSchema,
          },
        },
      },
      async (request) => {
        const version = (request.body as { version?: unknown }).version;
        if (version !== request.params.version)
          throw new HttpError(
            400,
            `the manifest's version ${JSON.stringify(version)} is not ${request.params.version}`,
          );
        const manifest = await publishUploaded(ctx.registry.dir, request.body);
        ctx.registry.invalidate();
        request.log.info({ version: manifest.version }, 'bundle published');
        return { version: manifest.version };
      },
    );

    admin.post(
      '/v1/admin/refresh',
      {
        schema: {
          summary: 'Run the refresh job now: re-embed every user with new events',
          tags: ['admin'],
          security: bearer,
          response: {
            200: {
              type: 'object',
              properties: {
                users: { type: 'integer' },
                events: { type: 'integer' },
                skippedItems: { type: 'integer' },
                seconds: { type: 'number' },
              },
            },
            ...authErrors,
            409: errorSchema,
          },
        },
      },
      async (request) => {
        // A pass over many users can outlast the idle timeout while this socket is silent: lift it for
        // this request (Node restores it on the connection's next request).
        request.raw.socket?.setTimeout(0);
        if (!ctx.refresh)
          throw new HttpError(
            409,
            'the refresh job is off: start the server with --run <training run folder>',
          );
        return ctx.refresh.runOnce();
      },
    );
  });
}
