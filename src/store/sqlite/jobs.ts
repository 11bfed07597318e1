// Jobs: creation, reads, listing, and the recomputation of a job's aggregate state that every
// task change calls inside its own transaction.
import { VidfleetError } from '../../protocol/errors.js';
import { deriveJob, isTerminalJob, jobFinishedAt, jobToWire, jsonText, taskFacts, type JobRow, type TaskRow } from '../derive.js';
import { isId, newId } from '../ids.js';
import type { Job } from '../../protocol/model.js';
import type { ListJobsFilter, NewJob } from '../store.js';
import { immediate, stmt, type Ctx } from './connection.js';
import { appendEvent } from './events.js';

function validateNewJob(job: NewJob): void {
  if (job.tasks.length === 0) throw new VidfleetError('VALIDATION_FAILED', `A ${job.kind} job needs at least one task.`);
  for (const t of job.tasks) {
    if (!Number.isInteger(t.maxAttempts) || t.maxAttempts < 1) {
      throw new VidfleetError('VALIDATION_FAILED', `Task maxAttempts must be an integer >= 1, got ${t.maxAttempts}.`);
    }
  }
  if (!Number.isInteger(job.priority)) throw new VidfleetError('VALIDATION_FAILED', `Job priority must be an integer, got ${job.priority}.`);
}

export function createJob(ctx: Ctx, job: NewJob): Job {
  validateNewJob(job);
  return immediate(ctx, () => {
    const now = ctx.now();
    const jobId = newId('job');
    stmt(ctx, `INSERT INTO jobs (id, kind, input, params, priority, status, progress, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`).run(jobId, job.kind, job.input, jsonText(job.params), job.priority, now, now);
    const insertTask = stmt(ctx, `INSERT INTO tasks (id, job_id, kind, input, params, priority, status, max_attempts, run_after, created_at)
                                  VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`);
    const taskIds = job.tasks.map((t) => {
      const taskId = newId('task');
      insertTask.run(taskId, jobId, t.kind, t.input, jsonText(t.params), job.priority, t.maxAttempts, now, now);
      return taskId;
    });
    appendEvent(ctx, jobId, null, 'job.created', { kind: job.kind, input: job.input, priority: job.priority, tasks: taskIds });
    return readJob(ctx, jobId, true) as Job;
  });
}

function readJob(ctx: Ctx, id: string, withTasks: boolean): Job | null {
  const row = stmt(ctx, 'SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
  if (!row) return null;
  return jobToWire(row, withTasks ? jobTasks(ctx, id) : undefined);
}

function jobTasks(ctx: Ctx, jobId: string): TaskRow[] {
  return stmt(ctx, 'SELECT * FROM tasks WHERE job_id = ? ORDER BY created_at, id').all(jobId) as TaskRow[];
}

export function getJob(ctx: Ctx, id: string, withTasks: boolean): Job | null {
  // A deferred transaction gives the job and its tasks from one snapshot.
  return ctx.db.transaction(() => readJob(ctx, id, withTasks))();
}

export function listJobs(ctx: Ctx, filter: ListJobsFilter): { jobs: Job[]; nextCursor: string | null } {
  if (!Number.isInteger(filter.limit) || filter.limit < 1) {
    throw new VidfleetError('VALIDATION_FAILED', `limit must be a positive integer, got ${filter.limit}.`);
  }
  if (filter.cursor !== undefined && !isId('job', filter.cursor)) {
    throw new VidfleetError('VALIDATION_FAILED', 'The cursor is not one this server issued; pass nextCursor from the previous page unchanged.');
  }
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (filter.status !== undefined) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.kind !== undefined) {
    where.push('kind = ?');
    params.push(filter.kind);
  }
  if (filter.cursor !== undefined) {
    where.push('id < ?');
    params.push(filter.cursor);
  }
  // One row more than asked tells whether another page exists, so the last page says so.
  const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
  const rows = stmt(ctx, sql).all(...params, filter.limit + 1) as JobRow[];
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return { jobs: page.map((r) => jobToWire(r)), nextCursor: rows.length > filter.limit && last ? last.id : null };
}

/**
 * Re-derives the job's status/progress/error/result from its tasks. Call inside the
 * transaction that changed a task, after the change.
 */
export function recomputeJob(ctx: Ctx, jobId: string): void {
  const job = stmt(ctx, 'SELECT status, finished_at FROM jobs WHERE id = ?').get(jobId) as Pick<JobRow, 'status' | 'finished_at'> | undefined;
  if (!job) return;
  const tasks = stmt(ctx, 'SELECT status, progress, error, result, finished_at FROM tasks WHERE job_id = ? ORDER BY created_at, id').all(jobId) as TaskRow[];
  const next = deriveJob(tasks.map(taskFacts));
  const now = ctx.now();
  const finishedAt = jobFinishedAt({ status: job.status, finishedAt: job.finished_at }, next.status, now);
  stmt(ctx, 'UPDATE jobs SET status = ?, progress = ?, error = ?, result = ?, updated_at = ?, finished_at = ? WHERE id = ?').run(
    next.status,
    next.progress,
    next.error,
    next.result,
    now,
    finishedAt,
    jobId,
  );
  if (next.status !== job.status && isTerminalJob(next.status)) {
    const type = next.status === 'completed' ? 'job.completed' : next.status === 'failed' ? 'job.failed' : 'job.canceled';
    appendEvent(ctx, jobId, null, type, next.error === null ? {} : { error: JSON.parse(next.error) as unknown });
  }
}

/**
 * A job with a failed task can never complete, so its tasks still waiting for a worker are
 * canceled rather than handed out to waste a worker's time. Tasks already held finish or fail
 * on their own; their writes stay accepted.
 */
export function cancelWaitingSiblings(ctx: Ctx, jobId: string, reason: string): void {
  const rows = stmt(ctx, `UPDATE tasks SET status = 'canceled', finished_at = @now WHERE job_id = @jobId AND status = 'pending' RETURNING id`).all({
    jobId,
    now: ctx.now(),
  }) as { id: string }[];
  for (const r of rows) appendEvent(ctx, jobId, r.id, 'task.canceled', { reason });
}
