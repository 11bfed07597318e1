// Leases: heartbeats keep a claimed attempt alive (they never move its run deadline, which the
// claim sets); the janitor takes back attempts whose lease ran out or whose run time is up;
// nextDueAt tells a long-polling claimer when to look again.
import type { LeaseState, TaskRef } from '../../protocol/api.js';
import { VidfleetError } from '../../protocol/errors.js';
import { afterLeaseExpiry, afterRunDeadline, expiryCause, jsonText, taskTimeoutError, workerLostError, type JobRow, type TaskRow } from '../derive.js';
import { CANCEL_REASONS } from '../derive.js';
import type { RequeueResult } from '../store.js';
import { HELD_SQL, immediate, stmt, type Ctx } from './connection.js';
import { appendEvent } from './events.js';
import { cancelWaitingSiblings, recomputeJob } from './jobs.js';
import { markSeen } from './workers.js';

export function heartbeat(ctx: Ctx, workerId: string, tasks: TaskRef[], leaseMs: number): { taskId: string; attempt: number; state: LeaseState }[] {
  return immediate(ctx, () => {
    const now = ctx.now();
    const seen = stmt(ctx, 'SELECT status FROM workers WHERE id = ?').get(workerId) as { status: string } | undefined;
    if (!seen) throw new VidfleetError('WORKER_NOT_FOUND', `Worker ${workerId} is not registered.`, { details: { workerId } });
    markSeen(ctx, workerId, seen.status === 'online', now);
    // A canceling task is not renewed: its remaining lease is the grace period for the worker to
    // stop and confirm, after which the janitor cancels it for good.
    const renew = stmt(
      ctx,
      `UPDATE tasks SET lease_expires_at = CASE WHEN status = 'canceling' THEN lease_expires_at ELSE @lease END
       WHERE id = @taskId AND attempt = @attempt AND worker_id = @workerId AND ${HELD_SQL}
       RETURNING status`,
    );
    return tasks.map((t) => {
      const row = renew.get({ taskId: t.taskId, attempt: t.attempt, workerId, lease: now + leaseMs }) as Pick<TaskRow, 'status'> | undefined;
      const state: LeaseState = !row ? 'lost' : row.status === 'canceling' ? 'cancel' : 'ok';
      return { taskId: t.taskId, attempt: t.attempt, state };
    });
  });
}

type Expired = Pick<TaskRow, 'id' | 'job_id' | 'status' | 'attempt' | 'max_attempts' | 'worker_id' | 'lease_expires_at' | 'run_deadline_at' | 'max_run_ms'>;

const EXPIRED_COLUMNS = 'id, job_id, status, attempt, max_attempts, worker_id, lease_expires_at, run_deadline_at, max_run_ms';
const JOB_STATUS_SQL = 'SELECT status FROM jobs WHERE id = ?';

/** Exported so the SQLite tests can check its query plan: held attempts whose lease ran out. */
export const EXPIRED_SQL = `SELECT ${EXPIRED_COLUMNS} FROM tasks
  WHERE ${HELD_SQL} AND lease_expires_at <= ? ORDER BY lease_expires_at`;

/** Exported so the SQLite tests can check its query plan: held attempts past their run deadline. */
export const OVERDUE_SQL = `SELECT ${EXPIRED_COLUMNS} FROM tasks
  WHERE ${HELD_SQL} AND run_deadline_at <= ? ORDER BY run_deadline_at`;

// Guarded on exactly what was read: a heartbeat, completion or failure that got in between
// (possible on a dialect that reads outside the lock, or under a second janitor) wins and this
// task is left alone. A timeout does not check the lease: renewing it does not buy more run time.
const GUARD = {
  WORKER_LOST: 'WHERE id = @id AND attempt = @attempt AND status = @status AND lease_expires_at = @leaseRead',
  TASK_TIMEOUT: 'WHERE id = @id AND attempt = @attempt AND status = @status',
} as const;

const TAKE_BACK = {
  pending: `UPDATE tasks SET status = 'pending', run_after = @now, lease_expires_at = NULL, run_deadline_at = NULL, error = @error`,
  failed: `UPDATE tasks SET status = 'failed', lease_expires_at = NULL, run_deadline_at = NULL, error = @error, finished_at = @now`,
  canceled: `UPDATE tasks SET status = 'canceled', lease_expires_at = NULL, run_deadline_at = NULL, finished_at = @now`,
} as const;

/**
 * The janitor: held attempts whose lease ran out (the worker is presumed gone: WORKER_LOST) or
 * that passed their run deadline (TASK_TIMEOUT) go back to pending while attempts remain, else
 * fail; canceling ones become canceled. One IMMEDIATE transaction, so janitors on several
 * connections or processes run one after another and the second finds nothing left to do.
 */
export function requeueExpiredLeases(ctx: Ctx): RequeueResult {
  return immediate(ctx, () => {
    const now = ctx.now();
    const found = new Map<string, Expired>();
    for (const t of [...(stmt(ctx, EXPIRED_SQL).all(now) as Expired[]), ...(stmt(ctx, OVERDUE_SQL).all(now) as Expired[])]) found.set(t.id, t);
    const result: RequeueResult = { requeued: 0, failed: 0, canceled: 0 };
    const jobs = new Set<string>();
    const failedJobs = new Set<string>();
    for (const t of found.values()) {
      const cause = expiryCause({ leaseExpiresAt: t.lease_expires_at, runDeadlineAt: t.run_deadline_at }, now);
      if (cause === null) continue;
      // A job failed earlier in this pass is not yet recomputed: remember it here.
      const job = stmt(ctx, JOB_STATUS_SQL).get(t.job_id) as Pick<JobRow, 'status'> | undefined;
      const jobStatus = failedJobs.has(t.job_id) ? 'failed' : job?.status;
      const facts = { status: t.status, attempt: t.attempt, maxAttempts: t.max_attempts, jobStatus };
      const outcome = cause === 'TASK_TIMEOUT' ? afterRunDeadline(facts) : afterLeaseExpiry(facts);
      const who = { workerId: t.worker_id, attempt: t.attempt, maxAttempts: t.max_attempts };
      const error = cause === 'TASK_TIMEOUT' ? taskTimeoutError({ ...who, maxRunMs: t.max_run_ms }) : workerLostError(who);
      const params = { id: t.id, attempt: t.attempt, status: t.status, leaseRead: t.lease_expires_at, now, error: jsonText(error) };
      if (stmt(ctx, `${TAKE_BACK[outcome]} ${GUARD[cause]}`).run(params).changes !== 1) continue;
      if (cause === 'TASK_TIMEOUT') {
        appendEvent(ctx, t.job_id, t.id, 'task.timed_out', { attempt: t.attempt, workerId: t.worker_id, runDeadlineAt: t.run_deadline_at, maxRunMs: t.max_run_ms });
      } else {
        appendEvent(ctx, t.job_id, t.id, 'task.lease_expired', { attempt: t.attempt, workerId: t.worker_id, leaseExpiresAt: t.lease_expires_at });
      }
      if (outcome === 'pending') {
        result.requeued++;
      } else if (outcome === 'failed') {
        result.failed++;
        failedJobs.add(t.job_id);
        appendEvent(ctx, t.job_id, t.id, 'task.failed', { attempt: t.attempt, error });
        cancelWaitingSiblings(ctx, t.job_id, CANCEL_REASONS.siblingFailed);
      } else {
        result.canceled++;
        appendEvent(ctx, t.job_id, t.id, 'task.canceled', { attempt: t.attempt, workerId: t.worker_id, reason: 'the worker did not confirm the cancel in time' });
      }
      jobs.add(t.job_id);
    }
    for (const jobId of jobs) recomputeJob(ctx, jobId);
    return result;
  });
}

export function nextDueAt(ctx: Ctx, kinds: string[]): number | null {
  let earliest: number | null = null;
  // Per kind, so each lookup is the first entry of one tasks_due range.
  for (const kind of new Set(kinds)) {
    const row = stmt(ctx, `SELECT run_after FROM tasks WHERE status = 'pending' AND waiting_on = 0 AND kind = ? ORDER BY run_after LIMIT 1`).get(kind) as
      | Pick<TaskRow, 'run_after'>
      | undefined;
    if (row && (earliest === null || row.run_after < earliest)) earliest = row.run_after;
  }
  return earliest;
}
