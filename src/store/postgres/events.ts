// The per-job event log. Appended inside the transaction of the change it describes, and only
// while that transaction holds the job's row lock (see lockJobs in jobs.ts): identity values are
// handed out at insert, not at commit, so without the lock a reader following one job with
// afterId could see event 11 commit before event 10 and skip 10 forever.
import { eventToWire, jsonText, type EventRow, type StoreEventType } from '../derive.js';
import { feedEventToWire, parseFeedCursor, validateFeedQuery, type FeedRow } from '../feed.js';
import type { FeedQuery, JobEvent } from '../store.js';
import type { FeedEvent } from '../../protocol/model.js';
import { COLS, exec, q, type Client, type Ctx } from './connection.js';

export interface NewEvent {
  jobId: string;
  taskId: string | null;
  type: StoreEventType;
  data: Record<string, unknown>;
}

/**
 * INSERT of events given as four arrays ($first … $first+3: job ids, task ids, types, JSON data)
 * and a time ($first+4); they get ids in the order given. A fragment, so it can ride along as a
 * CTE of the statement that re-derives the jobs (aggregate.ts) and save a round trip.
 */
export function insertEventsSql(first: number): string {
  const [jobs, tasks, types, data, now] = [first, first + 1, first + 2, first + 3, first + 4].map((n) => `$${n}`);
  return `INSERT INTO events (job_id, task_id, type, data, created_at)
    SELECT e.job_id, e.task_id, e.type, e.data::json, ${now}::bigint
    FROM unnest(${jobs}::text[], ${tasks}::text[], ${types}::text[], ${data}::text[]) WITH ORDINALITY AS e(job_id, task_id, type, data, n)
    ORDER BY e.n`;
}

export function eventArgs(events: readonly NewEvent[], now: number): unknown[] {
  return [events.map((e) => e.jobId), events.map((e) => e.taskId), events.map((e) => e.type), events.map((e) => jsonText(e.data)), now];
}

export async function appendEvents(c: Client, now: number, events: readonly NewEvent[]): Promise<void> {
  if (events.length > 0) await exec(c, insertEventsSql(1), eventArgs(events, now));
}

export async function listEvents(ctx: Ctx, jobId: string, afterId = 0): Promise<JobEvent[]> {
  const rows = await q<EventRow>(ctx.pool, `SELECT ${COLS.event} FROM events WHERE job_id = $1 AND id > $2 ORDER BY id`, [jobId, afterId]);
  return rows.map(eventToWire);
}

// In commit order as far as anyone can still tell: (tx, id), and only transactions older than
// every one still running (pg_snapshot_xmin), which can add no row below the cursor any more.
const FEED_COLUMNS = 'tx::text AS tx, id, job_id, task_id, worker_id, type, data, created_at';
const FEED_SQL = `SELECT ${FEED_COLUMNS} FROM events
  WHERE (tx, id) > ($1::text::xid8, $2::bigint) AND tx < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY tx, id LIMIT $3`;
const JOB_FEED_SQL = `SELECT ${FEED_COLUMNS} FROM events
  WHERE job_id = $4 AND (tx, id) > ($1::text::xid8, $2::bigint) AND tx < pg_snapshot_xmin(pg_current_snapshot())
  ORDER BY tx, id LIMIT $3`;

export async function listFeed(ctx: Ctx, query: FeedQuery): Promise<FeedEvent[]> {
  validateFeedQuery(query);
  const [tx, id] = query.after === undefined ? [0n, 0n] : parseFeedCursor(query.after, 2);
  const args = [String(tx), String(id), query.limit];
  const rows = await q<FeedRow & { tx: string }>(ctx.pool, query.jobId === undefined ? FEED_SQL : JOB_FEED_SQL, query.jobId === undefined ? args : [...args, query.jobId]);
  return rows.map((r) => feedEventToWire(r, `${r.tx}.${r.id}`));
}

export async function latestFeedCursor(ctx: Ctx): Promise<string | null> {
  const [row] = await q<{ tx: string; id: number }>(
    ctx.pool,
    'SELECT tx::text AS tx, id FROM events WHERE tx < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx DESC, id DESC LIMIT 1',
  );
  return row ? `${row.tx}.${row.id}` : null;
}
