// The end of every transaction that changes tasks: lock their jobs, append the events, and
// re-derive each job from its tasks.
//
// Lock order, kept by every operation, so that waits can never form a cycle:
//   1. Task rows first. They are waited for only one at a time (a fenced write) or in id order
//      (cancel, heartbeat, deregister); claim, the janitor and sibling cancels take them with
//      SKIP LOCKED and never wait.
//   2. Then job rows, in id order, FOR NO KEY UPDATE. Nothing waits for a task lock while holding
//      a job lock. (NO KEY: the foreign-key checks of rows inserted for a job take KEY SHARE on
//      it, which this lock does not conflict with, so no lock upgrade can deadlock.)
//   3. Then, under the job lock, events are appended and the job re-derived.
// The job lock serialises concurrent task changes of one job: the task read below is a new
// statement, so under READ COMMITTED it sees every change committed by the lock's previous
// holder, and the derived state is never stale. (Pruning's cascade is the one delete that may
// wait on a task under a job lock; it only touches finished jobs, and tx() retries a deadlock.)
//
// Round trips are the cost of a transaction here (about 0.15 ms each on localhost, more than most
// of these statements take to run), so step 2 rides along with the statement that changed the
// tasks (withJobLocks) and step 3 is one read and one write.
import type { JobStatus } from '../../protocol/model.js';
import { deriveJob, isTerminalJob, jobFinishedAt, taskFacts, type StoreEventType, type TaskRow } from '../derive.js';
import { CANCEL_REASONS } from '../derive.js';
import { WORK_ARTIFACTS } from '../graph.js';
import { exec, q, type Client } from './connection.js';
import { appendEvents, eventArgs, insertEventsSql, type NewEvent } from './events.js';

export interface JobState {
  id: string;
  status: JobStatus;
  finished_at: number | null;
}

/** What withJobLocks adds to each row. */
export interface LockedJobColumns {
  job_id: string;
  job_status: JobStatus;
  job_finished_at: number | null;
}

const LOCK_SQL = (ids: string) => `SELECT id, status, finished_at FROM jobs WHERE id IN (${ids}) ORDER BY id FOR NO KEY UPDATE`;

/**
 * Wraps a statement `t` whose rows carry job_id (its data-modifying or locking part) so that the
 * same round trip then locks those jobs in id order. `before` holds CTEs that must sit at the top
 * level (data-modifying ones). Rows of `t` come back with the job's locked state added.
 */
export function withJobLocks(t: string, before = ''): string {
  return `WITH ${before ? `${before},` : ''}
    t AS (${t}),
    locked AS (${LOCK_SQL('SELECT job_id FROM t')})
  SELECT t.*, locked.status AS job_status, locked.finished_at AS job_finished_at FROM t JOIN locked ON locked.id = t.job_id`;
}

export function lockedJobs(rows: readonly LockedJobColumns[]): Map<string, JobState> {
  return new Map(rows.map((r) => [r.job_id, { id: r.job_id, status: r.job_status, finished_at: r.job_finished_at }]));
}

/** Step 2 on its own: locks the jobs in id order; answers those that exist, by id. */
export async function lockJobs(c: Client, jobIds: Iterable<string>): Promise<Map<string, JobState>> {
  const ids = [...new Set(jobIds)].sort();
  if (ids.length === 0) return new Map();
  const rows = await q<JobState>(c, LOCK_SQL('SELECT unnest($1::text[])'), [ids]);
  return new Map(rows.map((r) => [r.id, r]));
}

const JOB_EVENT: Partial<Record<JobStatus, StoreEventType>> = { completed: 'job.completed', failed: 'job.failed', canceled: 'job.canceled' };

type TaskFactsRow = Pick<TaskRow, 'job_id' | 'status' | 'progress' | 'error' | 'result' | 'finished_at' | 'weight'>;

// The task events and the re-derived jobs in one statement; $1..$7 the jobs, $8..$12 the events.
const FINISH_SQL = `WITH ev AS (${insertEventsSql(8)})
  UPDATE jobs SET status = u.status, progress = u.progress, error = u.error::json, result = u.result::json, updated_at = $7, finished_at = u.finished_at
  FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::bigint[]) AS u(id, status, progress, error, result, finished_at)
  WHERE jobs.id = u.id`;

// A completed job's intermediate artifacts: rows gone now, blobs queued for the janitor.
const TRASH_WORK_SQL = `WITH gone AS (DELETE FROM artifacts WHERE job_id = ANY($1::text[]) AND name >= $2 AND name < $3 RETURNING key)
  INSERT INTO blob_trash (key, created_at) SELECT key, $4 FROM gone ON CONFLICT DO NOTHING`;

/** Step 3, for jobs already locked: the events, then each job re-derived from its tasks. */
export async function finishJobs(c: Client, now: number, jobs: Map<string, JobState>, events: readonly NewEvent[]): Promise<void> {
  const locked = [...jobs.values()];
  if (locked.length === 0) return appendEvents(c, now, events);
  const ids = locked.map((j) => j.id);
  const rows = await q<TaskFactsRow>(
    c,
    'SELECT job_id, status, progress, error, result, finished_at, weight FROM tasks WHERE job_id = ANY($1::text[]) ORDER BY job_id, created_at, id',
    [ids],
  );
  const byJob = new Map<string, TaskFactsRow[]>();
  for (const r of rows) {
    const list = byJob.get(r.job_id);
    if (list) list.push(r);
    else byJob.set(r.job_id, [r]);
  }
  const cols = { status: [] as string[], progress: [] as number[], error: [] as (string | null)[], result: [] as (string | null)[], finished: [] as (number | null)[] };
  const jobEvents: NewEvent[] = [];
  for (const job of locked) {
    const next = deriveJob((byJob.get(job.id) ?? []).map(taskFacts));
    cols.status.push(next.status);
    cols.progress.push(next.progress);
    cols.error.push(next.error);
    cols.result.push(next.result);
    cols.finished.push(jobFinishedAt({ status: job.status, finishedAt: job.finished_at }, next.status, now));
    const type = JOB_EVENT[next.status];
    if (type && next.status !== job.status && isTerminalJob(next.status)) {
      jobEvents.push({ jobId: job.id, taskId: null, type, data: next.error === null ? {} : { error: JSON.parse(next.error) as unknown } });
    }
  }
  await exec(c, FINISH_SQL, [ids, cols.status, cols.progress, cols.error, cols.result, cols.finished, now, ...eventArgs(events, now)]);
  const completed = locked.filter((job, i) => cols.status[i] === 'completed' && job.status !== 'completed').map((job) => job.id);
  if (completed.length > 0) await exec(c, TRASH_WORK_SQL, [completed, WORK_ARTIFACTS.from, WORK_ARTIFACTS.to, now]);
  // After the task events, as a job's end is the last thing that happens to it.
  await appendEvents(c, now, jobEvents);
}

/** Steps 2 and 3 when nothing decided before them depends on the jobs' state. */
export async function settleJobs(c: Client, now: number, jobIds: Iterable<string>, events: readonly NewEvent[]): Promise<void> {
  await finishJobs(c, now, await lockJobs(c, [...jobIds, ...events.map((e) => e.jobId)]), events);
}


/**
 * A job with a failed task can never complete, so its tasks still waiting for a worker are
 * canceled rather than handed out to waste a worker's time; tasks already held finish or fail on
 * their own. SKIP LOCKED, as this runs under the job lock: a pending task locked now is being
 * claimed, and that claim, once it gets the job lock, sees the job failed and cancels the task
 * itself (claim.ts). Answers the events to append.
 */
export async function cancelWaitingSiblings(c: Client, now: number, jobIds: readonly string[]): Promise<NewEvent[]> {
  if (jobIds.length === 0) return [];
  const rows = await q<{ id: string; job_id: string }>(
    c,
    `UPDATE tasks SET status = 'canceled', finished_at = $2
     WHERE id IN (SELECT id FROM tasks WHERE job_id = ANY($1::text[]) AND status = 'pending' FOR UPDATE SKIP LOCKED)
     RETURNING id, job_id`,
    [jobIds, now],
  );
  // Job order (created_at, then id) is id order for ids made by one process.
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return rows.map((r) => ({ jobId: r.job_id, taskId: r.id, type: 'task.canceled' as const, data: { reason: CANCEL_REASONS.siblingFailed } }));
}
