// The per-job event log. Appended inside the transaction of the change it describes, and only
// while that transaction holds the job's row lock (see lockJobs in jobs.ts): identity values are
// handed out at insert, not at commit, so without the lock a reader following one job with
// afterId could see event 11 commit before event 10 and skip 10 forever.
import { eventToWire, jsonText, type EventRow, type StoreEventType } from '../derive.js';
import type { JobEvent } from '../store.js';
import { COLS, exec, q, type Client, type Ctx } from './connection.js';

export interface NewEvent {
  jobId: string;
  taskId: string | null;
  type: StoreEventType;
  data: Record<string, unknown>;
}

/** One statement for any number of events; they get ids in the order given. */
export async function appendEvents(c: Client, now: number, events: readonly NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await exec(
    c,
    `INSERT INTO events (job_id, task_id, type, data, created_at)
     SELECT e.job_id, e.task_id, e.type, e.data::json, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS e(job_id, task_id, type, data, n)
     ORDER BY e.n`,
    [events.map((e) => e.jobId), events.map((e) => e.taskId), events.map((e) => e.type), events.map((e) => jsonText(e.data)), now],
  );
}

export async function listEvents(ctx: Ctx, jobId: string, afterId = 0): Promise<JobEvent[]> {
  const rows = await q<EventRow>(ctx.pool, `SELECT ${COLS.event} FROM events WHERE job_id = $1 AND id > $2 ORDER BY id`, [jobId, afterId]);
  return rows.map(eventToWire);
}
