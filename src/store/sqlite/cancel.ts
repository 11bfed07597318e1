// Cancellation by a user. Tasks no worker has started (pending, assigned) end canceled at once;
// running ones become canceling, keep their worker, and get at most `graceMs` of lease left. The
// worker learns it from its next heartbeat or progress answer ('cancel'), stops, and confirms
// with failTask (→ canceled); if it never does, the janitor cancels the task when the lease
// runs out. A canceling task never goes back to pending, so a canceled job's tasks are never
// claimed again.
import { VidfleetError } from '../../protocol/errors.js';
import type { Job } from '../../protocol/model.js';
import { cancelLease, isTerminalJob, validateDuration, type JobRow, type TaskRow } from '../derive.js';
import { CANCEL_REASONS } from '../derive.js';
import { immediate, stmt, type Ctx } from './connection.js';
import { appendEvent } from './events.js';
import { readJob, recomputeJob } from './jobs.js';

type Live = Pick<TaskRow, 'id' | 'status' | 'attempt' | 'worker_id' | 'lease_expires_at'>;


export function cancelJob(ctx: Ctx, jobId: string, graceMs: number): Job {
  validateDuration('graceMs', graceMs);
  return immediate(ctx, () => {
    const job = stmt(ctx, 'SELECT status FROM jobs WHERE id = ?').get(jobId) as Pick<JobRow, 'status'> | undefined;
    if (!job) throw new VidfleetError('JOB_NOT_FOUND', `Job ${jobId} does not exist.`, { details: { jobId } });
    // Finished is final: a completed job keeps its result, a failed one its error.
    if (isTerminalJob(job.status)) return readJob(ctx, jobId, true) as Job;

    const now = ctx.now();
    appendEvent(ctx, jobId, null, 'job.cancel_requested', { graceMs });
    const live = stmt(
      ctx,
      `SELECT id, status, attempt, worker_id, lease_expires_at FROM tasks
       WHERE job_id = ? AND status IN ('pending', 'assigned', 'running', 'canceling') ORDER BY created_at, id`,
    ).all(jobId) as Live[];
    for (const t of live) {
      if (t.status === 'pending' || t.status === 'assigned') {
        // An assigned task's worker has not reported starting: nothing to wait for. Its next
        // heartbeat answers 'lost' and its writes are refused.
        stmt(
          ctx,
          `UPDATE tasks SET status = 'canceled', lease_expires_at = NULL, run_deadline_at = NULL, finished_at = @now
           WHERE id = @id AND status = @status`,
        ).run({ id: t.id, status: t.status, now });
        appendEvent(ctx, jobId, t.id, 'task.canceled', t.status === 'pending' ? { reason: CANCEL_REASONS.byUser } : { attempt: t.attempt, workerId: t.worker_id, reason: CANCEL_REASONS.byUser });
      } else {
        // running → canceling; a task already canceling (a second cancel) only has its grace cut.
        const lease = cancelLease(t.lease_expires_at, now, graceMs);
        stmt(ctx, `UPDATE tasks SET status = 'canceling', lease_expires_at = @lease WHERE id = @id AND status = @status`).run({ id: t.id, status: t.status, lease });
        if (t.status === 'running') appendEvent(ctx, jobId, t.id, 'task.canceling', { attempt: t.attempt, workerId: t.worker_id, leaseExpiresAt: lease });
      }
    }
    recomputeJob(ctx, jobId);
    return readJob(ctx, jobId, true) as Job;
  });
}
