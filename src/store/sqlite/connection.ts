// Opening the database file, and the per-connection context every operation file works on.
import { ReadyKinds, type GraphExpanders } from '../graph.js';
import Database from 'better-sqlite3';
import { HELD_STATUSES } from '../derive.js';
import { FeedSignal } from '../feed.js';

export type Db = Database.Database;

export interface Ctx {
  readonly db: Db;
  /** ms since the epoch; injectable so tests expire leases without sleeping. */
  readonly now: () => number;
  readonly statements: Map<string, Database.Statement>;
  /** Graph extensions by task kind (run on completion) and the kinds a write made claimable. */
  readonly graph: { readonly expanders: GraphExpanders; readonly ready: ReadyKinds };
  /** Rings after a commit that appended events. */
  readonly feed: FeedSignal;
}

/** Several connections (processes, coordinators) may share the file; each waits its turn for the write lock. */
const BUSY_TIMEOUT_MS = 15_000;

export function openDatabase(path: string): Db {
  const db = new Database(path);
  // busy_timeout first: switching to WAL needs a lock another opener may hold.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode loses at most the last transactions on power loss, never consistency.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  return db;
}

export function createCtx(db: Db, now: () => number, expanders: GraphExpanders = {}): Ctx {
  return { db, now, statements: new Map(), graph: { expanders, ready: new ReadyKinds() }, feed: new FeedSignal() };
}

/** Prepared once per connection: preparing costs more than most of these statements run. */
export function stmt(ctx: Ctx, sql: string): Database.Statement {
  let s = ctx.statements.get(sql);
  if (!s) {
    s = ctx.db.prepare(sql);
    ctx.statements.set(sql, s);
  }
  return s;
}

/**
 * Runs `fn` in a BEGIN IMMEDIATE transaction: the write lock is taken up front, so a read made
 * inside it stays true until commit even across processes (SQLite's answer to SELECT … FOR UPDATE).
 */
export function immediate<T>(ctx: Ctx, fn: () => T): T {
  return ctx.db.transaction(fn).immediate();
}

const held = HELD_STATUSES.map((s) => `'${s}'`).join(', ');

/** SQL for "still held"; literal so the partial lease index (same expression) applies. */
export const HELD_SQL = `status IN (${held})`;

/**
 * The fence every worker write carries: this attempt, this worker, still held. Statements using
 * it take named parameters @taskId, @attempt, @workerId.
 */
export const FENCE_SQL = `id = @taskId AND attempt = @attempt AND worker_id = @workerId AND ${HELD_SQL}`;
