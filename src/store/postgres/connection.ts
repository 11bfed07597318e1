// The pool, the per-store context every operation file works on, and the transaction helper.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { GraphExpanders, ReadyKinds } from '../graph.js';
import { VidfleetError } from '../../protocol/errors.js';
import { HELD_STATUSES } from '../derive.js';

export type Client = pg.PoolClient;

export interface Ctx {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** ms since the epoch; injectable so tests expire leases without sleeping. */
  readonly now: () => number;
  /** Graph extensions by task kind (run on completion) and the kinds a write made claimable. */
  readonly graph: { readonly expanders: GraphExpanders; readonly ready: ReadyKinds };
}

const INT8 = 20;
const JSON_OID = 114;
const JSONB_OID = 3802;

// Parsers for this pool only: pg.types is process-global, and pg-boss (bench) shares the process.
// int8 holds ms timestamps and event ids, far below 2^53. JSON stays text so derive.ts's row
// mappers (written for SQLite's text columns) apply unchanged.
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8) return (v: string) => Number(v);
    if (oid === JSON_OID || oid === JSONB_OID) return (v: string) => v;
    return pg.types.getTypeParser(oid, format as 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export function createPool(connectionString: string, schema: string, poolSize: number): pg.Pool {
  if (!SCHEMA_RE.test(schema)) throw new VidfleetError('VALIDATION_FAILED', `schema must be a plain lower-case identifier, got "${schema}".`);
  // search_path at connect time: every statement names tables unqualified, and a named
  // statement prepared on a connection stays bound to this schema.
  return new pg.Pool({
    connectionString,
    max: poolSize,
    types,
    options: `-c search_path=${schema}`,
    application_name: 'vidfleet',
    // Waiting for a connection (a new one, or a free one from the pool) fails after this long
    // instead of hanging a request forever; the same patience as SQLite's busy timeout.
    connectionTimeoutMillis: 15_000,
  });
}

// Named (server-side prepared) statements skip parse and plan on every call after the first on a
// connection: measured 0.41 → 0.27 ms (median of 4 runs × 3,000) for the fenced progress UPDATE,
// round trip included, on localhost.
const names = new Map<string, string>();
function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) {
    name = `vf_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
    names.set(sql, name);
  }
  return name;
}

export async function q<R extends pg.QueryResultRow = Record<string, never>>(c: Client | pg.Pool, sql: string, values: unknown[] = []): Promise<R[]> {
  return (await c.query<R>({ name: statementName(sql), text: sql, values })).rows;
}

/** Like q, answering how many rows the statement touched. */
export async function exec(c: Client | pg.Pool, sql: string, values: unknown[] = []): Promise<number> {
  return (await c.query({ name: statementName(sql), text: sql, values })).rowCount ?? 0;
}

// 40P01 deadlock_detected, 40001 serialization_failure: the transaction changed nothing and can
// run again. The lock order of aggregate.ts leaves no cycle among the store's own statements (the
// race tests in test/store/postgres.test.ts see none); this is the backstop for what it cannot
// order, such as pruning's cascade meeting a straggler.
const RETRY_CODES = new Set(['40P01', '40001']);
const MAX_TRIES = 5;

/** Runs `fn` in one READ COMMITTED transaction on one connection; rolls back on any throw. */
export async function tx<T>(ctx: Ctx, fn: (c: Client) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const c = await ctx.pool.connect();
    let broken = false;
    try {
      await c.query(begin);
      const value = await fn(c);
      await c.query('COMMIT');
      return value;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {
        broken = true;
      });
      const code = (err as { code?: unknown }).code;
      if (attempt < MAX_TRIES && typeof code === 'string' && RETRY_CODES.has(code)) continue;
      throw err;
    } finally {
      c.release(broken);
    }
  }
}

/** Several reads from one snapshot (a job and its tasks that agree with each other). */
export async function snapshot<T>(ctx: Ctx, fn: (c: Client) => Promise<T>): Promise<T> {
  return tx(ctx, fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

// Columns named, never `*`: a named statement's result shape is fixed when it is prepared, so a
// coordinator still running while another migrates (adding a column) would fail every `SELECT *`
// with "cached plan must not change result type". These are exactly derive.ts's row shapes.
const list = (table: string | null, cols: string) => (table ? cols.split(', ').map((c) => `${table}.${c}`).join(', ') : cols);
const JOB = 'id, kind, input, params, priority, status, progress, error, result, created_at, updated_at, finished_at, owner';
const TASK =
  'id, job_id, kind, input, params, priority, status, attempt, max_attempts, worker_id, lease_expires_at, run_after, progress, error, result, resume_data, max_run_ms, run_deadline_at, created_at, started_at, finished_at, requires, progress_detail, name, waiting_on, weight';
export const COLS = {
  job: (table: string | null = null) => list(table, JOB),
  task: (table: string | null = null) => list(table, TASK),
  worker: 'id, name, hostname, capabilities, status, registered_at, last_heartbeat_at, owner',
  artifact: 'job_id, task_id, name, key, size, sha256, content_type, created_at',
  event: 'id, job_id, task_id, type, data, created_at',
};

const held = HELD_STATUSES.map((s) => `'${s}'`).join(', ');

/** SQL for "still held"; literal so the partial lease and deadline indexes (same predicate) apply. */
export const HELD_SQL = `status IN (${held})`;

/** The fence every worker write carries; the statement's $1, $2, $3 are taskId, attempt, workerId. */
export const FENCE_SQL = `id = $1 AND attempt = $2 AND worker_id = $3 AND ${HELD_SQL}`;
