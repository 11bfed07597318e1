// Leases: heartbeats keep a claimed attempt alive; the janitor takes back attempts whose lease
// ran out; nextDueAt tells a long-polling claimer when to look again.
import type { LeaseState, TaskRef } from '../../protocol/api.js';
import { VidfleetError } from '../../protocol/errors.js';
import { afterLeaseExpiry, jsonText, workerLostError, type TaskRow } from '../derive.js';
import type { RequeueResult } from '../store.js';
import { HELD_SQL, immediate, stmt, type Ctx } from './connection.js';
import { appendEvent } from './events.js';
import { cancelWaitingSiblings, recomputeJob } from './jobs.js';

export function heartbeat(ctx: Ctx, workerId: string, tasks: TaskRef[], leaseMs: number): { taskId: string; attempt: number; state: LeaseState }[] {
  return immediate(ctx, () => {
    const now = ctx.now();
    const seen = stmt(ctx, `UPDATE workers SET status = 'online', last_heartbeat_at = ? WHERE id = ?`).run(now, workerId);
    if (seen.changes === 0) throw new VidfleetError('WORKER_NOT_FOUND', `Worker ${workerId} is not registered.`, { details: { workerId } });
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

type Expired = Pick<TaskRow, 'id' | 'job_id' | 'status' | 'attempt' | 'max_attempts' | 'worker_id' | 'lease_expires_at'>;

/** Exported so the SQLite tests can check its query plan. */
export const EXPIRED_SQL = `SELECT id, job_id, status, attempt, max_attempts, worker_id, lease_expires_at FROM tasks
  WHERE ${HELD_SQL} AND lease_expires_at <= ? ORDER BY lease_expires_at`;

export function requeueExpiredLeases(ctx: Ctx): RequeueResult {
  return immediate(ctx, () => {
    const now = ctx.now();
    const expired = stmt(ctx, EXPIRED_SQL).all(now) as Expired[];
    const result: RequeueResult = { requeued: 0, failed: 0 };
    const jobs = new Set<string>();
    for (const t of expired) {
      const outcome = afterLeaseExpiry({ status: t.status, attempt: t.attempt, maxAttempts: t.max_attempts });
      const error = workerLostError({ workerId: t.worker_id, attempt: t.attempt, maxAttempts: t.max_attempts });
      // Guarded on exactly what was read: a heartbeat or completion that got in between (possible
      // on a dialect that reads outside the lock) wins, and this task is left alone.
      const guard = `WHERE id = @id AND attempt = @attempt AND status = @status AND lease_expires_at = @leaseRead`;
      const params = { id: t.id, attempt: t.attempt, status: t.status, leaseRead: t.lease_expires_at, now, error: jsonText(error) };
      const sql =
        outcome === 'pending'
          ? `UPDATE tasks SET status = 'pending', run_after = @now, lease_expires_at = NULL, error = @error ${guard}`
          : outcome === 'failed'
            ? `UPDATE tasks SET status = 'failed', lease_expires_at = NULL, error = @error, finished_at = @now ${guard}`
            : `UPDATE tasks SET status = 'canceled', lease_expires_at = NULL, finished_at = @now ${guard}`;
      if (stmt(ctx, sql).run(params).changes !== 1) continue;
      appendEvent(ctx, t.job_id, t.id, 'task.lease_expired', { attempt: t.attempt, workerId: t.worker_id, leaseExpiresAt: t.lease_expires_at });
      if (outcome === 'pending') {
        result.requeued++;
      } else if (outcome === 'failed') {
        result.failed++;
        appendEvent(ctx, t.job_id, t.id, 'task.failed', { attempt: t.attempt, error });
        cancelWaitingSiblings(ctx, t.job_id, 'a sibling task failed');
      } else {
        appendEvent(ctx, t.job_id, t.id, 'task.canceled', { attempt: t.attempt, reason: 'the worker did not confirm the cancel in time' });
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
    const row = stmt(ctx, `SELECT run_after FROM tasks WHERE status = 'pending' AND kind = ? ORDER BY run_after LIMIT 1`).get(kind) as
      | Pick<TaskRow, 'run_after'>
      | undefined;
    if (row && (earliest === null || row.run_after < earliest)) earliest = row.run_after;
  }
  return earliest;
}
