import send from '@fastify/send';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { HttpError } from '../http/errors.ts';
import { errorSchema } from '../http/schemas.ts';
import type { ManifestView } from '../registry/index.ts';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const segment = { type: 'string', minLength: 1, maxLength: 128 } as const;

function noBundle(): HttpError {
  return new HttpError(
    404,
    'no bundle is published yet: run `edgerec bundle --out <models dir>` or `edgerec publish`',
  );
}

/** Answers 304 when the client already holds this representation. */
function sendTagged(request: FastifyRequest, reply: FastifyReply, etag: string, cache: string, body: string) {
  reply.header('etag', etag).header('cache-control', cache).type('application/json; charset=utf-8');
  if (matchesAny(request.headers['if-none-match'], etag)) return reply.code(304).send();
  return reply.send(body);
}

/**
 * The model registry, laid out as the bundles folder itself (`latest.json`, `<version>/manifest.json`,
 * `<version>/<file>`), so the engine's `bundleUrl` can point at `<server>/v1/bundles/`. Bundles are public
 * model files: no token needed. Manifests carry ETags; files are immutable (content-addressed names) and
 * served with range requests.
 */
export function registryRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const latest = (): ManifestView => {
    const version = ctx.registry.latestVersion();
    const view = version ? ctx.registry.manifest(version) : undefined;
    if (!view) throw noBundle();
    return view;
  };

  app.get(
    '/v1/manifest',
    {
      schema: {
        summary: "The latest bundle's manifest (ETag; If-None-Match answers 304)",
        tags: ['registry'],
        response: { 404: errorSchema },
      },
    },
    async (request, reply) => {
      const view = latest();
      return sendTagged(request, reply, view.etag, 'no-cache', view.body);
    },
  );

  app.get(
    '/v1/bundles/latest.json',
    {
      schema: {
        summary: 'The version the registry serves now',
        tags: ['registry'],
        response: { 404: errorSchema },
      },
    },
    async (request, reply) => {
      const view = latest();
      const body = JSON.stringify({ version: view.manifest.version });
      return sendTagged(request, reply, `"latest-${view.manifest.version}"`, 'no-cache', body);
    },
  );

  app.get<{ Params: { version: string } }>(
    '/v1/bundles/:version/manifest.json',
    {
      schema: {
        summary: "One version's manifest (immutable)",
        tags: ['registry'],
        params: { type: 'object', required: ['version'], properties: { version: segment } },
        response: { 404: errorSchema },
      },
    },
    async (request, reply) => {
      const view = ctx.registry.manifest(request.params.version);
      if (!view) throw new HttpError(404, `no bundle version ${request.params.version.slice(0, 128)}`);
      return sendTagged(request, reply, view.etag, IMMUTABLE, view.body);
    },
  );

  app.get<{ Params: { version: string; file: string } }>(
    '/v1/bundles/:version/:file',
    {
      schema: {
        summary:
          'A bundle file: immutable, with range requests (If-Range on its ETag) and If-None-Match (304)',
        tags: ['registry'],
        params: {
          type: 'object',
          required: ['version', 'file'],
          properties: { version: segment, file: segment },
        },
        response: { 404: errorSchema, 416: errorSchema },
      },
    },
    async (request, reply) => {
      const { version, file } = request.params;
      const found = ctx.registry.filePath(version, file);
      if (!found)
        throw new HttpError(404, `bundle ${version.slice(0, 128)} lists no file ${file.slice(0, 128)}`);
      // A strong validator from the content hash, the same for every server process.
      const etag = `"${found.ref.sha256}"`;
      reply.header('etag', etag).header('cache-control', IMMUTABLE);
      if (matchesAny(request.headers['if-none-match'], etag)) return reply.code(304).send();
      // A range is honoured only against this very file: a resumed download of an older one gets it whole.
      const ifRange = request.headers['if-range'];
      if (ifRange !== undefined && String(ifRange).trim() !== etag) delete request.raw.headers.range;
      delete request.raw.headers['if-range'];
      const result = await send(request.raw, file, {
        root: `${ctx.registry.dir}/${version}`,
        immutable: true,
        maxAge: 31_536_000_000,
        dotfiles: 'deny',
        index: false,
        etag: false,
        lastModified: false,
      });
      if (result.type === 'error') {
        const status = (result.metadata as { error?: { status?: number } }).error?.status ?? 500;
        if (status === 416) {
          reply.header('content-range', `bytes */${found.ref.bytes}`);
          throw new HttpError(
            416,
            `the range ${String(request.headers.range).slice(0, 64)} is outside ${file} (${found.ref.bytes} bytes)`,
          );
        }
        throw new HttpError(status < 500 ? status : 500, `cannot serve ${file}: ${status}`);
      }
      reply.code(result.statusCode).headers(result.headers);
      reply.header('etag', etag).header('cache-control', IMMUTABLE);
      return reply.send(result.stream);
    },
  );
}

/** Whether an If-None-Match header names this ETag (or `*`). */
function matchesAny(header: string | undefined, etag: string): boolean {
  return header?.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*') ?? false;
}
