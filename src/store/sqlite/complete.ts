// The two ways a held attempt ends by the worker's own report: completed, or failed (which may
// put the task back in line for another attempt).
import type { ErrorBody } from '../../protocol/errors.js';
import { afterFailure, isHandBack, jsonText, retryRunAfter, type FailOutcome } from '../derive.js';
import { CANCEL_REASONS } from '../derive.js';
import type { AttemptRef, NewTask } from '../store.js';
import { FENCE_SQL, immediate, type Ctx } from './connection.js';
import { expansionError, namingTask } from '../graph.js';
import { expansionOf, insertTasks, releaseDependents } from './dag.js';
import { appendEvent } from './events.js';
import { fencedUpdate, requireHeld, type HeldTask } from './fence.js';
import { cancelWaitingSiblings, recomputeJob } from './jobs.js';

/**
 * Completing a canceling task is accepted: the work finished before the worker saw the cancel,
 * and throwing the result away helps no one. The task is completed (its artifacts stay); a job
 * whose tasks all completed this way is completed with its result, while one with canceled
 * siblings ends canceled (deriveJob: every task completed or canceled). The event says
 * `whileCanceling: true` so a watcher can tell.
 */
export function completeTask(ctx: Ctx, ref: AttemptRef, result: unknown): void {
  immediate(ctx, () => completeHeld(ctx, ref, result));
}

/** The body of completeTask, for callers already inside an IMMEDIATE transaction; throws before writing when the attempt is not held. */
export function completeHeld(ctx: Ctx, ref: AttemptRef, result: unknown): void {
  const task = requireHeld(ctx, ref);
  // A graph task's expander plans the rest of the job from this result; a result it cannot use
  // fails the task (and so the job) instead of completing it into a graph with a hole.
  let added: NewTask[];
  try {
    added = expansionOf(ctx, task, result);
  } catch (err) {
    const error = expansionError(err, task).toBody();
    failHeld(ctx, ref, task, { ...error, retryable: false }, { retryDelayMs: 0 });
    return;
  }
  // resume_data only serves a next attempt; a completed task has none. A completion that finds
  // the task still assigned (its "started" report is behind it, or was never sent) implies the
  // start: the task ran, so it gets its started_at and task.running like any other.
  fencedUpdate(
    ctx,
    `UPDATE tasks SET status = 'completed', progress = 1, result = @result, error = NULL, resume_data = NULL,
       lease_expires_at = NULL, run_deadline_at = NULL, finished_at = @now,
       started_at = CASE WHEN status = 'assigned' THEN @now ELSE started_at END
     WHERE ${FENCE_SQL}`,
    ref,
    { result: jsonText(result), now: ctx.now() },
  );
  if (task.status === 'assigned') appendEvent(ctx, task.job_id, task.id, 'task.running', { attempt: task.attempt, workerId: ref.workerId, implied: true });
  const data: Record<string, unknown> = { attempt: task.attempt, workerId: ref.workerId };
  if (task.status === 'canceling') data.whileCanceling = true;
  appendEvent(ctx, task.job_id, task.id, 'task.completed', data);
  if (added.length > 0) {
    const ids = insertTasks(ctx, task.job_id, task.priority, added, ctx.now());
    appendEvent(ctx, task.job_id, task.id, 'job.expanded', { tasks: ids });
  }
  releaseDependents(ctx, task.id);
  recomputeJob(ctx, task.job_id);
}

/**
 * A failure report ends the attempt: back to pending (retryable, attempts left), failed, or — for
 * a canceling task, whatever the error (CANCELED, or ffmpeg dying of the SIGTERM) — canceled.
 */
export function failTask(ctx: Ctx, ref: AttemptRef, error: ErrorBody, options: { resumeData?: unknown; retryDelayMs: number }): FailOutcome {
  return immediate(ctx, () => failHeld(ctx, ref, requireHeld(ctx, ref), error, options));
}

/** The body of failTask, for callers inside an IMMEDIATE transaction that hold `task` (requireHeld). */
function failHeld(ctx: Ctx, ref: AttemptRef, task: HeldTask, reported: ErrorBody, options: { resumeData?: unknown; retryDelayMs: number }): FailOutcome {
  const now = ctx.now();
  const error = namingTask(reported, task.name);
  const handedBack = isHandBack(error);
  const outcome = afterFailure({ status: task.status, attempt: task.attempt, maxAttempts: task.max_attempts, jobStatus: task.job_status }, error.retryable, handedBack);
  // A failure that reports no resume data keeps what an earlier attempt left: losing it would
  // make the next attempt redo work that is already stored.
  const resumeData = options.resumeData === undefined ? task.resume_data : jsonText(options.resumeData);
  const errorText = jsonText(error);
  if (outcome === 'pending') {
    const runAfter = retryRunAfter(now, options.retryDelayMs);
    fencedUpdate(
      ctx,
      `UPDATE tasks SET status = 'pending', run_after = @runAfter, lease_expires_at = NULL, run_deadline_at = NULL, error = @error,
         resume_data = @resumeData, max_attempts = max_attempts + @bump
       WHERE ${FENCE_SQL}`,
      ref,
      { runAfter, error: errorText, resumeData, bump: handedBack ? 1 : 0 },
    );
    appendEvent(ctx, task.job_id, task.id, 'task.retrying', { attempt: task.attempt, error, runAfter, ...(handedBack && { handedBack: true }) });
  } else {
    fencedUpdate(
      ctx,
      `UPDATE tasks SET status = @status, lease_expires_at = NULL, run_deadline_at = NULL, error = @error, resume_data = @resumeData,
         finished_at = @now
       WHERE ${FENCE_SQL}`,
      ref,
      { status: outcome, error: outcome === 'failed' ? errorText : null, resumeData, now },
    );
    appendEvent(
      ctx,
      task.job_id,
      task.id,
      outcome === 'failed' ? 'task.failed' : 'task.canceled',
      outcome === 'failed' ? { attempt: task.attempt, error } : { attempt: task.attempt, workerId: ref.workerId, reason: CANCEL_REASONS.workerConfirmed, error },
    );
    if (outcome === 'failed') cancelWaitingSiblings(ctx, task.job_id, CANCEL_REASONS.siblingFailed);
  }
  recomputeJob(ctx, task.job_id);
  return outcome;
}
