import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type BuildServerOptions, buildServer } from '../../../src/server/app.ts';
import { TokenSigner } from '../../../src/server/auth/index.ts';
import type { ServerContext } from '../../../src/server/context.ts';
import { ServerMetrics } from '../../../src/server/metrics.ts';
import { Registry } from '../../../src/server/registry/index.ts';
import { openStore } from '../../../src/server/store/index.ts';

export const POSTGRES_URL =
  process.env.EDGEREC_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const DB_KINDS = ['sqlite', 'postgres'] as const;
export type DbKind = (typeof DB_KINDS)[number];

export interface TestServer {
  app: Awaited<ReturnType<typeof buildServer>>;
  context: ServerContext;
  userToken(userId: string, ttlSeconds?: number): string;
  adminToken(): string;
  close(): Promise<void>;
}

/**
 * A real server (real store, real registry folder) for `inject` tests: SQLite in a temp folder, or
 * PostgreSQL in a throwaway schema dropped on close.
 */
export async function testServer(
  kind: DbKind,
  modelsDir: string,
  options: Omit<BuildServerOptions, 'context'> = {},
  contextOptions: Pick<ServerContext, 'combineRule'> = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgerec-api-'));
  const schema = `edgerec_api_${randomBytes(4).toString('hex')}`;
  const store = await openStore(
    kind === 'postgres' ? { databaseUrl: POSTGRES_URL, dataDir, schema } : { dataDir },
  );
  const signer = new TokenSigner(TokenSigner.generateSecret());
  const context: ServerContext = {
    store,
    signer,
    registry: new Registry(modelsDir),
    metrics: new ServerMetrics(),
    tokenTtlSeconds: 3600,
    maxSessionSeconds: 7200,
    ...contextOptions,
  };
  const app = await buildServer({ ...options, context });
  return {
    app,
    context,
    userToken: (userId, ttl = 3600) => signer.issue(userId, 'user', ttl).token,
    adminToken: () => signer.issue('ops', 'admin', 3600).token,
    close: async () => {
      await app.close();
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (kind === 'postgres') {
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}
