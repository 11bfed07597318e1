// The two ways a held attempt ends by the worker's own report: completed, or failed (which may
// put the task back in line for another attempt, or confirm a cancel).
import type { ErrorBody } from '../../protocol/errors.js';
import { afterFailure, isHandBack, jsonText, retryRunAfter, type FailOutcome } from '../derive.js';
import { CANCEL_REASONS } from '../derive.js';
import { expansionError, namingTask } from '../graph.js';
import type { AttemptRef, NewTask } from '../store.js';
import { expansionOf, insertTasks, releaseDependents } from './dag.js';
import { exec, FENCE_SQL, tx, type Client, type Ctx } from './connection.js';
import { cancelWaitingSiblings, finishJobs } from './aggregate.js';
import type { NewEvent } from './events.js';
import { fenced, requireHeld } from './fence.js';

// resume_data only serves a next attempt; a completed task has none. The sub-select locks the row
// and hands its previous status to RETURNING, as in fence.ts.
const COMPLETE_SQL = `UPDATE tasks SET status = 'completed', progress = 1, result = $4::json, error = NULL, resume_data = NULL,
    lease_expires_at = NULL, run_deadline_at = NULL, finished_at = $5,
    started_at = CASE WHEN was.status = 'assigned' THEN $5 ELSE tasks.started_at END
  FROM (SELECT id, status FROM tasks WHERE ${FENCE_SQL} FOR UPDATE) was
  WHERE tasks.id = was.id
  RETURNING tasks.job_id, tasks.id, tasks.kind, tasks.name, tasks.priority, tasks.attempt, was.status AS was_status`;

/**
 * Completing a canceling task is accepted: the work finished before the worker saw the cancel,
 * and throwing the result away helps no one. The event says `whileCanceling: true`.
 */
export async function completeTask(ctx: Ctx, ref: AttemptRef, result: unknown): Promise<void> {
  await tx(ctx, (c) => completeHeld(c, ctx, ctx.now(), ref, result));
}

// A result the graph expander cannot use turns the completion just written into a failure, in
// the same transaction: the job fails rather than completing into a graph with a hole.
const UNDO_COMPLETE_SQL = `UPDATE tasks SET status = 'failed', result = NULL, error = $2::json WHERE id = $1`;

type Completed = { job_id: string; id: string; kind: string; name: string | null; priority: number; attempt: number; was_status: string };

/** The body of completeTask inside the caller's transaction; a refusal throws having changed nothing. */
export async function completeHeld(c: Client, ctx: Ctx, now: number, ref: AttemptRef, result: unknown): Promise<void> {
  const { row, jobs } = await fenced<Completed>(c, COMPLETE_SQL, ref, [jsonText(result), now]);
  let added: NewTask[];
  try {
    added = await expansionOf(c, ctx, row, result);
  } catch (err) {
    const error = namingTask({ ...expansionError(err, row).toBody(), retryable: false }, row.name);
    await exec(c, UNDO_COMPLETE_SQL, [row.id, jsonText(error)]);
    const failed: NewEvent = { jobId: row.job_id, taskId: row.id, type: 'task.failed', data: { attempt: row.attempt, error } };
    await finishJobs(c, now, jobs, [failed, ...(await cancelWaitingSiblings(c, now, [row.job_id]))]);
    return;
  }
  const data: Record<string, unknown> = { attempt: row.attempt, workerId: ref.workerId };
  if (row.was_status === 'canceling') data.whileCanceling = true;
  // A completion that finds the task still assigned implies its start (see the SQLite store).
  const implied: NewEvent[] =
    row.was_status === 'assigned' ? [{ jobId: row.job_id, taskId: row.id, type: 'task.running', data: { attempt: row.attempt, workerId: ref.workerId, implied: true } }] : [];
  const events: NewEvent[] = [...implied, { jobId: row.job_id, taskId: row.id, type: 'task.completed', data }];
  if (added.length > 0) {
    const ids = await insertTasks(c, ctx, row.job_id, row.priority, added, now);
    events.push({ jobId: row.job_id, taskId: row.id, type: 'job.expanded', data: { tasks: ids } });
  }
  await releaseDependents(c, ctx, row.id);
  await finishJobs(c, now, jobs, events);
}

const RETRY_SQL = `UPDATE tasks SET status = 'pending', run_after = $4, lease_expires_at = NULL, run_deadline_at = NULL, error = $5::json, resume_data = $6::json,
    max_attempts = max_attempts + $7
  WHERE ${FENCE_SQL} RETURNING job_id`;
const END_SQL = `UPDATE tasks SET status = $4, lease_expires_at = NULL, run_deadline_at = NULL, error = $5::json, resume_data = $6::json, finished_at = $7
  WHERE ${FENCE_SQL} RETURNING job_id`;

/**
 * A failure report ends the attempt: back to pending (retryable, attempts left), failed, or — for
 * a canceling task, whatever the error — canceled.
 */
export async function failTask(ctx: Ctx, ref: AttemptRef, reported: ErrorBody, options: { resumeData?: unknown; retryDelayMs: number }): Promise<FailOutcome> {
  return tx(ctx, async (c) => {
    // Task and job locked before deciding: the outcome depends on the task's status and attempt
    // count, and on whether a sibling has already failed the job.
    const { task, jobs } = await requireHeld(c, ref);
    const error = namingTask(reported, task.name);
    const now = ctx.now();
    const jobStatus = jobs.get(task.job_id)?.status;
    const handedBack = isHandBack(error);
    const outcome = afterFailure({ status: task.status, attempt: task.attempt, maxAttempts: task.max_attempts, jobStatus }, error.retryable, handedBack);
    // A failure that reports no resume data keeps what an earlier attempt left: losing it would
    // make the next attempt redo work that is already stored.
    const resumeData = options.resumeData === undefined ? task.resume_data : jsonText(options.resumeData);
    const errorText = jsonText(error);
    const base = { jobId: task.job_id, taskId: task.id };
    const events: NewEvent[] = [];
    if (outcome === 'pending') {
      const runAfter = retryRunAfter(now, options.retryDelayMs);
      await fenced(c, RETRY_SQL, ref, [runAfter, errorText, resumeData, handedBack ? 1 : 0]);
      events.push({ ...base, type: 'task.retrying', data: { attempt: task.attempt, error, runAfter, ...(handedBack && { handedBack: true }) } });
    } else {
      await fenced(c, END_SQL, ref, [outcome, outcome === 'failed' ? errorText : null, resumeData, now]);
      if (outcome === 'failed') {
        events.push({ ...base, type: 'task.failed', data: { attempt: task.attempt, error } });
        events.push(...(await cancelWaitingSiblings(c, now, [task.job_id])));
      } else {
        events.push({ ...base, type: 'task.canceled', data: { attempt: task.attempt, workerId: ref.workerId, reason: CANCEL_REASONS.workerConfirmed, error } });
      }
    }
    await finishJobs(c, now, jobs, events);
    return outcome;
  });
}
