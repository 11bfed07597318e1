// Fencing: every write a worker makes names (task, attempt, worker) and applies only while that
// attempt is current and the task still held. A refused write throws and changes nothing (the
// surrounding transaction rolls back).
import type { LeaseState } from '../../protocol/api.js';
import { VidfleetError } from '../../protocol/errors.js';
import type { JobStatus } from '../../protocol/model.js';
import { clampProgress, type TaskRow } from '../derive.js';
import { progressEventDue } from '../feed.js';
import type { AttemptRef, ProgressExtra } from '../store.js';
import { FENCE_SQL, immediate, stmt, type Ctx } from './connection.js';
import { appendEvent } from './events.js';
import { recomputeJob } from './jobs.js';

export type HeldTask = Pick<TaskRow, 'id' | 'job_id' | 'kind' | 'status' | 'attempt' | 'max_attempts' | 'worker_id' | 'resume_data' | 'priority'> & {
  name: string | null;
  job_status: JobStatus;
  progress_event_at: number | null;
};

export function fenceParams(ref: AttemptRef): { taskId: string; attempt: number; workerId: string } {
  return { taskId: ref.taskId, attempt: ref.attempt, workerId: ref.workerId };
}

/** Why a fenced write was refused: the task is gone, or this attempt is no longer the held one. */
export function refusal(ctx: Ctx, ref: AttemptRef): VidfleetError {
  const current = stmt(ctx, 'SELECT status, attempt, worker_id FROM tasks WHERE id = ?').get(ref.taskId) as
    | Pick<TaskRow, 'status' | 'attempt' | 'worker_id'>
    | undefined;
  if (!current) return new VidfleetError('TASK_NOT_FOUND', `Task ${ref.taskId} does not exist.`, { details: { taskId: ref.taskId } });
  return new VidfleetError(
    'STALE_ATTEMPT',
    `Attempt ${ref.attempt} of task ${ref.taskId} by worker ${ref.workerId} is no longer current: the task is ${current.status} at attempt ${current.attempt}.`,
    { details: { taskId: ref.taskId, attempt: ref.attempt, workerId: ref.workerId, currentAttempt: current.attempt, status: current.status } },
  );
}

/** The held task, or throws STALE_ATTEMPT / TASK_NOT_FOUND. Call inside an IMMEDIATE transaction. */
export function requireHeld(ctx: Ctx, ref: AttemptRef): HeldTask {
  const row = stmt(
    ctx,
    `SELECT id, job_id, kind, name, priority, status, attempt, max_attempts, worker_id, resume_data, progress_event_at,
       (SELECT status FROM jobs WHERE jobs.id = tasks.job_id) AS job_status
     FROM tasks WHERE ${FENCE_SQL}`,
  ).get(fenceParams(ref)) as
    | HeldTask
    | undefined;
  if (!row) throw refusal(ctx, ref);
  return row;
}

/**
 * Runs a fenced UPDATE (its WHERE must be FENCE_SQL) and throws if it matched nothing. Inside
 * an IMMEDIATE transaction after requireHeld it always matches; it stays fenced anyway so no
 * write in this store depends on the caller having checked first.
 */
export function fencedUpdate(ctx: Ctx, sql: string, ref: AttemptRef, params: Record<string, unknown>): void {
  const info = stmt(ctx, sql).run({ ...params, ...fenceParams(ref) });
  if (info.changes !== 1) throw refusal(ctx, ref);
}

export function assertAttempt(ctx: Ctx, ref: AttemptRef): { jobId: string } {
  return immediate(ctx, () => ({ jobId: requireHeld(ctx, ref).job_id }));
}

export function reportProgress(ctx: Ctx, ref: AttemptRef, progress: number, extra: ProgressExtra = {}): LeaseState {
  return immediate(ctx, () => progressHeld(ctx, ref, progress, extra));
}

/**
 * The body of reportProgress, for callers already inside an IMMEDIATE transaction. `progress`
 * null keeps the current value (a bare "started" acknowledgement). Throws before writing
 * anything when the attempt is not held.
 */
export function progressHeld(ctx: Ctx, ref: AttemptRef, progress: number | null, extra: ProgressExtra = {}): LeaseState {
  const task = requireHeld(ctx, ref);
  const now = ctx.now();
  const clamped = progress === null ? null : clampProgress(progress);
  const logged = progressEventDue(clamped, task.progress_event_at, now);
  fencedUpdate(
    ctx,
    `UPDATE tasks SET progress = COALESCE(@progress, progress), resume_data = COALESCE(@resume, resume_data),
       progress_detail = COALESCE(@detail, progress_detail),
       progress_event_at = CASE WHEN @logged THEN @now ELSE progress_event_at END,
       started_at = CASE WHEN status = 'assigned' THEN @now ELSE started_at END,
       status = CASE WHEN status = 'assigned' THEN 'running' ELSE status END
     WHERE ${FENCE_SQL}`,
    ref,
    {
      progress: clamped,
      now,
      logged: logged ? 1 : 0,
      resume: extra.resumeData === undefined ? null : JSON.stringify(extra.resumeData),
      detail: extra.detail === undefined ? null : JSON.stringify(extra.detail),
    },
  );
  if (task.status === 'assigned') appendEvent(ctx, task.job_id, task.id, 'task.running', { attempt: task.attempt, workerId: ref.workerId });
  if (logged) appendEvent(ctx, task.job_id, task.id, 'task.progress', { attempt: task.attempt, progress: clamped, ...(extra.detail !== undefined && { detail: extra.detail }) });
  recomputeJob(ctx, task.job_id);
  return task.status === 'canceling' ? 'cancel' : 'ok';
}
