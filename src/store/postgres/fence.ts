// Fencing: every write a worker makes names (task, attempt, worker) and applies only while that
// attempt is current and the task still held. Each write is one conditional statement; under READ
// COMMITTED a concurrent change makes it wait and re-check the condition on the newest row, so a
// write that matched nothing was refused, and the transaction rolls back having changed nothing.
import type { LeaseState } from '../../protocol/api.js';
import { VidfleetError } from '../../protocol/errors.js';
import { clampProgress, jsonText, type TaskRow } from '../derive.js';
import { PROGRESS_EVENT_INTERVAL_MS } from '../feed.js';
import type { AttemptRef, ProgressExtra } from '../store.js';
import { FENCE_SQL, q, tx, type Client, type Ctx } from './connection.js';
import { finishJobs, lockedJobs, withJobLocks, type JobState, type LockedJobColumns } from './aggregate.js';
import type { NewEvent } from './events.js';

export type HeldTask = Pick<TaskRow, 'id' | 'job_id' | 'status' | 'attempt' | 'max_attempts' | 'worker_id' | 'resume_data'> & { name: string | null };

export const fenceArgs = (ref: AttemptRef): unknown[] => [ref.taskId, ref.attempt, ref.workerId];

/** Why a fenced write was refused: the task is gone, or this attempt is no longer the held one. */
export async function refusal(c: Client | Ctx['pool'], ref: AttemptRef): Promise<VidfleetError> {
  const [current] = await q<Pick<TaskRow, 'status' | 'attempt'>>(c, 'SELECT status, attempt FROM tasks WHERE id = $1', [ref.taskId]);
  if (!current) return new VidfleetError('TASK_NOT_FOUND', `Task ${ref.taskId} does not exist.`, { details: { taskId: ref.taskId } });
  return new VidfleetError(
    'STALE_ATTEMPT',
    `Attempt ${ref.attempt} of task ${ref.taskId} by worker ${ref.workerId} is no longer current: the task is ${current.status} at attempt ${current.attempt}.`,
    { details: { taskId: ref.taskId, attempt: ref.attempt, workerId: ref.workerId, currentAttempt: current.attempt, status: current.status } },
  );
}

/** The held task, locked with its job (in that order, one round trip), or throws STALE_ATTEMPT / TASK_NOT_FOUND. */
export async function requireHeld(c: Client, ref: AttemptRef): Promise<{ task: HeldTask; jobs: Map<string, JobState> }> {
  const [row] = await q<HeldTask & LockedJobColumns>(
    c,
    withJobLocks(`SELECT id, job_id, name, status, attempt, max_attempts, worker_id, resume_data FROM tasks WHERE ${FENCE_SQL} FOR UPDATE`),
    fenceArgs(ref),
  );
  if (!row) throw await refusal(c, ref);
  return { task: row, jobs: lockedJobs([row]) };
}

/**
 * Runs a fenced statement (its WHERE holds FENCE_SQL; $1..$3 are the fence, `args` follow) that
 * returns the job_id of the row it changed, locks that job, and answers the row, or throws the
 * refusal if it matched nothing.
 */
export async function fenced<R extends { job_id: string }>(c: Client, sql: string, ref: AttemptRef, args: unknown[]): Promise<{ row: R; jobs: Map<string, JobState> }> {
  const [row] = await q<R & LockedJobColumns>(c, withJobLocks(sql), [...fenceArgs(ref), ...args]);
  if (!row) throw await refusal(c, ref);
  return { row, jobs: lockedJobs([row]) };
}

export async function assertAttempt(ctx: Ctx, ref: AttemptRef): Promise<{ jobId: string }> {
  const [row] = await q<{ job_id: string }>(ctx.pool, `SELECT job_id FROM tasks WHERE ${FENCE_SQL}`, fenceArgs(ref));
  if (!row) throw await refusal(ctx.pool, ref);
  return { jobId: row.job_id };
}

// The sub-select locks the row and hands the status it had before the update to RETURNING
// (PostgreSQL before 18 has no OLD in RETURNING): one round trip for lock, check and write.
// A progress value is also logged as a task.progress event when none was lately ($8: the interval).
const PROGRESS_DUE = `($4::float8 IS NOT NULL AND (was.progress_event_at IS NULL OR $5 - was.progress_event_at >= $8))`;
const PROGRESS_SQL = `UPDATE tasks SET progress = COALESCE($4, tasks.progress), resume_data = COALESCE($6::json, tasks.resume_data),
    progress_detail = COALESCE($7::json, tasks.progress_detail),
    progress_event_at = CASE WHEN ${PROGRESS_DUE} THEN $5 ELSE tasks.progress_event_at END,
    started_at = CASE WHEN tasks.status = 'assigned' THEN $5 ELSE tasks.started_at END,
    status = CASE WHEN tasks.status = 'assigned' THEN 'running' ELSE tasks.status END
  FROM (SELECT id, status, progress_event_at FROM tasks WHERE ${FENCE_SQL} FOR UPDATE) was
  WHERE tasks.id = was.id
  RETURNING tasks.job_id, tasks.id, tasks.attempt, was.status AS was_status, ${PROGRESS_DUE} AS logged`;

export async function reportProgress(ctx: Ctx, ref: AttemptRef, progress: number, extra: ProgressExtra = {}): Promise<LeaseState> {
  return tx(ctx, (c) => progressHeld(c, ctx.now(), ref, progress, extra));
}

/**
 * The body of reportProgress inside the caller's transaction. `progress` null keeps the current
 * value (a bare "started" acknowledgement). A refusal throws having changed nothing.
 */
export async function progressHeld(c: Client, now: number, ref: AttemptRef, progress: number | null, extra: ProgressExtra = {}): Promise<LeaseState> {
  const clamped = progress === null ? null : clampProgress(progress);
  const { row, jobs } = await fenced<{ job_id: string; id: string; attempt: number; was_status: TaskRow['status']; logged: boolean }>(c, PROGRESS_SQL, ref, [
    clamped,
    now,
    extra.resumeData === undefined ? null : jsonText(extra.resumeData),
    extra.detail === undefined ? null : jsonText(extra.detail),
    PROGRESS_EVENT_INTERVAL_MS,
  ]);
  const events: NewEvent[] =
    row.was_status === 'assigned' ? [{ jobId: row.job_id, taskId: row.id, type: 'task.running', data: { attempt: row.attempt, workerId: ref.workerId } }] : [];
  if (row.logged) {
    events.push({ jobId: row.job_id, taskId: row.id, type: 'task.progress', data: { attempt: row.attempt, progress: clamped, ...(extra.detail !== undefined && { detail: extra.detail }) } });
  }
  await finishJobs(c, now, jobs, events);
  return row.was_status === 'canceling' ? 'cancel' : 'ok';
}
