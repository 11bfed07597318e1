// Picks the Store from the configured database: a postgres:// URL means PostgreSQL (several
// coordinators may share it), anything else is a SQLite file.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PostgresStore } from '../store/postgres/index.js';
import { SqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/store.js';
import { GRAPH_EXPANDERS } from './planner/index.js';
import { isPostgresUrl, type CoordinatorConfig } from './config.js';

export async function openStore(config: Pick<CoordinatorConfig, 'db' | 'dbSchema'>): Promise<Store> {
  if (isPostgresUrl(config.db)) {
    const store = new PostgresStore({ connectionString: config.db, schema: config.dbSchema, expanders: GRAPH_EXPANDERS });
    try {
      await store.migrate();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw new Error(`Cannot use the PostgreSQL database ${redact(config.db)}: ${(err as Error).message}. Check that the server runs and the URL, user and database are right.`, { cause: err });
    }
    return store;
  }
  await mkdir(dirname(config.db), { recursive: true });
  const store = new SqliteStore({ path: config.db, expanders: GRAPH_EXPANDERS });
  await store.migrate();
  return store;
}

/** A database URL without its password, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
