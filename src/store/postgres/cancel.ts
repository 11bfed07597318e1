// Cancellation by a user. Tasks no worker has started (pending, assigned) end canceled at once;
// running ones become canceling, keep their worker, and get at most `graceMs` of lease left. The
// worker learns it from its next heartbeat or progress answer ('cancel'), stops, and confirms
// with failTask (→ canceled); if it never does, the janitor cancels the task when the lease
// runs out. A canceling task never goes back to pending.
import { VidfleetError } from '../../protocol/errors.js';
import type { Job } from '../../protocol/model.js';
import { cancelLease, isTerminalJob, validateDuration, type TaskRow } from '../derive.js';
import { CANCEL_REASONS } from '../derive.js';
import { exec, q, tx, type Ctx } from './connection.js';
import { finishJobs, lockJobs } from './aggregate.js';
import type { NewEvent } from './events.js';
import { readJob } from './jobs.js';

type Live = Pick<TaskRow, 'id' | 'status' | 'attempt' | 'worker_id' | 'lease_expires_at' | 'created_at'>;

export async function cancelJob(ctx: Ctx, jobId: string, graceMs: number): Promise<Job> {
  validateDuration('graceMs', graceMs);
  return tx(ctx, async (c) => {
    // Task locks first and in id order (aggregate.ts): a worker's write in flight finishes first,
    // and what is read here stays true until commit.
    const live = await q<Live>(
      c,
      `SELECT id, status, attempt, worker_id, lease_expires_at, created_at FROM tasks
       WHERE job_id = $1 AND status IN ('pending', 'assigned', 'running', 'canceling') ORDER BY id FOR UPDATE`,
      [jobId],
    );
    const jobs = await lockJobs(c, [jobId]);
    const job = jobs.get(jobId);
    if (!job) throw new VidfleetError('JOB_NOT_FOUND', `Job ${jobId} does not exist.`, { details: { jobId } });
    // Finished is final: a completed job keeps its result, a failed one its error.
    if (isTerminalJob(job.status)) return (await readJob(c, jobId, true)) as Job;

    const now = ctx.now();
    const events: NewEvent[] = [{ jobId, taskId: null, type: 'job.cancel_requested', data: { graceMs } }];
    const plan = { id: [] as string[], next: [] as string[], lease: [] as (number | null)[] };
    live.sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
    for (const t of live) {
      plan.id.push(t.id);
      if (t.status === 'pending' || t.status === 'assigned') {
        // An assigned task's worker has not reported starting: nothing to wait for. Its next
        // heartbeat answers 'lost' and its writes are refused.
        plan.next.push('canceled');
        plan.lease.push(null);
        const data = t.status === 'pending' ? { reason: CANCEL_REASONS.byUser } : { attempt: t.attempt, workerId: t.worker_id, reason: CANCEL_REASONS.byUser };
        events.push({ jobId, taskId: t.id, type: 'task.canceled', data });
      } else {
        // running → canceling; a task already canceling (a second cancel) only has its grace cut.
        const lease = cancelLease(t.lease_expires_at, now, graceMs);
        plan.next.push('canceling');
        plan.lease.push(lease);
        if (t.status === 'running') events.push({ jobId, taskId: t.id, type: 'task.canceling', data: { attempt: t.attempt, workerId: t.worker_id, leaseExpiresAt: lease } });
      }
    }
    if (plan.id.length > 0) {
      await exec(
        c,
        `UPDATE tasks SET status = u.next, lease_expires_at = u.lease,
           run_deadline_at = CASE WHEN u.next = 'canceled' THEN NULL ELSE tasks.run_deadline_at END,
           finished_at = CASE WHEN u.next = 'canceled' THEN $4 ELSE tasks.finished_at END
         FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(id, next, lease) WHERE tasks.id = u.id`,
        [plan.id, plan.next, plan.lease, now],
      );
    }
    await finishJobs(c, now, jobs, events);
    return (await readJob(c, jobId, true)) as Job;
  });
}
