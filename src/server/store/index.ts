import { join } from 'node:path';
import { InputError } from '../../core/errors.ts';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export { openPostgresStore, PostgresStore } from './postgres.ts';
export { openSqliteStore, SqliteStore } from './sqlite.ts';
export type * from './types.ts';

export interface StoreOptions {
  /** postgres:// or postgresql://; without one the server keeps everything in SQLite under `dataDir`. */
  databaseUrl?: string;
  dataDir: string;
  /** A PostgreSQL schema to keep the tables in (created if missing); tests use a throwaway one. */
  schema?: string;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const { databaseUrl, dataDir, schema } = options;
  if (databaseUrl === undefined || databaseUrl === '') return openSqliteStore(join(dataDir, 'edgerec.db'));
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1]?.toLowerCase();
  if (scheme !== 'postgres' && scheme !== 'postgresql') {
    // The URL may carry a password: name only its scheme.
    throw new InputError(
      `database URL must start with postgres:// or postgresql://, got ${scheme ? `${scheme}://…` : 'no scheme'}`,
    );
  }
  return openPostgresStore(databaseUrl, schema === undefined ? {} : { schema });
}
