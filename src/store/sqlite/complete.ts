// The two ways a held attempt ends by the worker's own report: completed, or failed (which may
// put the task back in line for another attempt).
import type { ErrorBody } from '../../protocol/errors.js';
import { afterFailure, jsonText, retryRunAfter } from '../derive.js';
import type { AttemptRef } from '../store.js';
import { FENCE_SQL, immediate, type Ctx } from './connection.js';
import { appendEvent } from './events.js';
import { fencedUpdate, requireHeld } from './fence.js';
import { cancelWaitingSiblings, recomputeJob } from './jobs.js';

export function completeTask(ctx: Ctx, ref: AttemptRef, result: unknown): void {
  immediate(ctx, () => {
    const task = requireHeld(ctx, ref);
    // resume_data only serves a next attempt; a completed task has none.
    fencedUpdate(
      ctx,
      `UPDATE tasks SET status = 'completed', progress = 1, result = @result, error = NULL, resume_data = NULL,
         lease_expires_at = NULL, finished_at = @now
       WHERE ${FENCE_SQL}`,
      ref,
      { result: jsonText(result), now: ctx.now() },
    );
    appendEvent(ctx, task.job_id, task.id, 'task.completed', { attempt: task.attempt, workerId: ref.workerId });
    recomputeJob(ctx, task.job_id);
  });
}

export function failTask(ctx: Ctx, ref: AttemptRef, error: ErrorBody, options: { resumeData?: unknown; retryDelayMs: number }): 'pending' | 'failed' {
  return immediate(ctx, () => {
    const task = requireHeld(ctx, ref);
    const now = ctx.now();
    const outcome = afterFailure({ status: task.status, attempt: task.attempt, maxAttempts: task.max_attempts }, error.retryable);
    // A failure that reports no resume data keeps what an earlier attempt left: losing it would
    // make the next attempt redo work that is already stored.
    const resumeData = options.resumeData === undefined ? task.resume_data : jsonText(options.resumeData);
    const errorText = jsonText(error);
    if (outcome === 'pending') {
      const runAfter = retryRunAfter(now, options.retryDelayMs);
      fencedUpdate(
        ctx,
        `UPDATE tasks SET status = 'pending', run_after = @runAfter, lease_expires_at = NULL, error = @error, resume_data = @resumeData
         WHERE ${FENCE_SQL}`,
        ref,
        { runAfter, error: errorText, resumeData },
      );
      appendEvent(ctx, task.job_id, task.id, 'task.retrying', { attempt: task.attempt, error, runAfter });
    } else {
      fencedUpdate(
        ctx,
        `UPDATE tasks SET status = @status, lease_expires_at = NULL, error = @error, resume_data = @resumeData, finished_at = @now
         WHERE ${FENCE_SQL}`,
        ref,
        { status: outcome, error: outcome === 'failed' ? errorText : null, resumeData, now },
      );
      appendEvent(ctx, task.job_id, task.id, outcome === 'failed' ? 'task.failed' : 'task.canceled', { attempt: task.attempt, error });
      if (outcome === 'failed') cancelWaitingSiblings(ctx, task.job_id, 'a sibling task failed');
    }
    recomputeJob(ctx, task.job_id);
    // The interface has no 'canceled' answer yet; the attempt is over either way (see index.ts).
    return outcome === 'pending' ? 'pending' : 'failed';
  });
}
