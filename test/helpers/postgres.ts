// PostgreSQL for tests: finding a server, a schema namespace per test file (every schema the file
// makes starts with one random prefix and is dropped at the end), and raw access for what the
// Store interface cannot show (row counts, plans, bulk fixtures).
import type { GraphExpanders } from '../../src/store/graph.js';
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/index.js';

/**
 * Where to look: VIDFLEET_TEST_PG if set, else the local server's `test` database as postgres or
 * as the current user (trust auth).
 */
export function pgCandidates(): string[] {
  if (process.env.VIDFLEET_TEST_PG) return [process.env.VIDFLEET_TEST_PG];
  const urls = ['postgres://postgres@127.0.0.1:5432/test'];
  const me = userInfo().username;
  if (me !== 'postgres') urls.push(`postgres://${encodeURIComponent(me)}@127.0.0.1:5432/test`);
  return urls;
}

export interface PgProbe {
  /** A URL that answered, or null. */
  url: string | null;
  /** Why none answered, for the skip message. */
  reason: string;
}

/** The first candidate URL that accepts a connection within 2 s. */
export async function pgAvailable(): Promise<PgProbe> {
  const reasons: string[] = [];
  for (const url of pgCandidates()) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { url, reason: '' };
    } catch (err) {
      reasons.push(`${url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@')}: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { url: null, reason: reasons.join('; ') };
}

/** One per test file: its schemas are `${prefix}_1`, `${prefix}_2`, … */
export class PgTestSchemas {
  readonly prefix = `vf_${randomBytes(5).toString('hex')}`;
  private n = 0;
  private admin: pg.Pool | undefined;

  constructor(readonly url: string) {}

  /** A name no store has used yet; the schema itself is created by the store's migrate(). */
  next(): string {
    this.n++;
    return `${this.prefix}_${this.n}`;
  }

  /** A store on a fresh schema, or on the schema of `same`. */
  store(options: { now?: () => number; same?: PostgresStore; poolSize?: number; schema?: string; expanders?: GraphExpanders } = {}): PostgresStore {
    const schema = options.same?.schema ?? options.schema ?? this.next();
    return new PostgresStore({ connectionString: this.url, schema, now: options.now, poolSize: options.poolSize ?? 4, expanders: options.expanders });
  }

  /** A small pool outside any store, for raw SQL; closed by dropAll. */
  pool(): pg.Pool {
    this.admin ??= new pg.Pool({ connectionString: this.url, max: 2 });
    return this.admin;
  }

  /** Raw SQL with `schema` first on the search path, in one transaction. */
  async sql<R extends pg.QueryResultRow = pg.QueryResultRow>(schema: string, text: string, values: unknown[] = []): Promise<R[]> {
    const c = await this.pool().connect();
    try {
      await c.query('BEGIN');
      await c.query(`SET LOCAL search_path = "${schema}"`);
      const { rows } = await c.query<R>(text, values);
      await c.query('COMMIT');
      return rows;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async countRows(schema: string, table: string): Promise<number> {
    const [row] = await this.sql<{ n: string }>(schema, `SELECT count(*) AS n FROM "${table}"`);
    return Number(row?.n ?? 0);
  }

  /** Drops every schema of this file, then closes the raw pool. */
  async dropAll(): Promise<void> {
    const pool = this.pool();
    const { rows } = await pool.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [`${this.prefix}\\_%`]);
    for (const { nspname } of rows) await pool.query(`DROP SCHEMA "${nspname}" CASCADE`);
    await pool.end();
    this.admin = undefined;
  }
}

/**
 * `n` pending tasks, `perJob` to a job, inserted in one statement (createJob would take minutes
 * for a million), shaped as createJob leaves them. Kinds take turns; job priorities 0..9.
 */
export async function bulkTasks(pgs: PgTestSchemas, schema: string, n: number, kinds: string[], o: { perJob?: number; from?: number; analyze?: boolean } = {}): Promise<void> {
  const t0 = Date.now() - 3_600_000;
  const id = (prefix: string, n: string) => `'${prefix}_' || lpad(to_hex(${n}), 21, '0')`;
  await pgs.sql(
    schema,
    `WITH s AS (SELECT i, (i - 1) / $4::int AS j, ($2::text[])[1 + i % array_length($2::text[], 1)] AS kind FROM generate_series($5::int + 1, $5::int + $1::int) AS i),
     jobs_made AS (
       INSERT INTO jobs (id, kind, input, params, priority, status, progress, created_at, updated_at)
       SELECT ${id('job', 'j')}, min(kind), 'noop://', '{}', j % 10, 'pending', 0, $3::bigint + j, $3::bigint + j FROM s GROUP BY j
     )
     INSERT INTO tasks (id, job_id, kind, input, params, priority, status, max_attempts, max_run_ms, run_after, created_at)
     SELECT ${id('task', 'i')}, ${id('job', 'j')}, kind, 'noop://', '{}', j % 10, 'pending', 3, 60000, $3::bigint + j, $3::bigint + j FROM s`,
    [n, kinds, t0, o.perJob ?? 1, o.from ?? 0],
  );
  if (o.analyze !== false) await pgs.sql(schema, 'ANALYZE');
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
