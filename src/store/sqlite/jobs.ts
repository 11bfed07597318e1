// Jobs: creation, reads, listing, and the recomputation of a job's aggregate state that every
// task change calls inside its own transaction.
import {
  deriveJob, idempotencyConflict, idempotencyDecision, isTerminalJob, jobFinishedAt, jobToWire, jsonText, taskFacts, validateIdempotency, validateListFilter, validateNewJob,
  validateLimit, type IdempotencyKeyRow, type JobRow, type TaskRow,
} from '../derive.js';
import { newId } from '../ids.js';
import type { Job } from '../../protocol/model.js';
import type { IdempotencyOptions, ListJobsFilter, NewJob } from '../store.js';
import { immediate, stmt, type Ctx } from './connection.js';
import { insertTasks } from './dag.js';
import { WORK_ARTIFACTS } from '../graph.js';
import { appendEvent } from './events.js';

function insertJob(ctx: Ctx, job: NewJob, now: number): string {
  const jobId = newId('job');
  stmt(ctx, `INSERT INTO jobs (id, kind, input, params, priority, status, progress, created_at, updated_at, owner)
             VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`).run(jobId, job.kind, job.input, jsonText(job.params), job.priority, now, now, job.owner ?? null);
  const taskIds = insertTasks(ctx, jobId, job.priority, job.tasks, now);
  appendEvent(ctx, jobId, null, 'job.created', { kind: job.kind, input: job.input, priority: job.priority, tasks: taskIds });
  return jobId;
}

/**
 * Inserts the job and its tasks, and with an idempotency key, the key too, in one IMMEDIATE
 * transaction. The key is read under the write lock, so concurrent submissions with one key
 * (other connections, other processes) queue up behind the first: exactly one creates the job,
 * the rest find its key and replay it.
 */
export function createJob(ctx: Ctx, job: NewJob, idempotency?: IdempotencyOptions): { job: Job; created: boolean } {
  validateNewJob(job);
  if (idempotency) validateIdempotency(idempotency);
  return immediate(ctx, () => {
    const now = ctx.now();
    if (idempotency) {
      const row = stmt(ctx, 'SELECT request_hash, job_id, expires_at FROM idempotency_keys WHERE owner = ? AND key = ?').get(idempotency.owner, idempotency.key) as
        | Pick<IdempotencyKeyRow, 'request_hash' | 'job_id' | 'expires_at'>
        | undefined;
      const decision = idempotencyDecision(row, idempotency.requestHash, now);
      if (row && decision === 'conflict') throw idempotencyConflict(idempotency, row.job_id);
      if (row && decision === 'replay') return { job: readJob(ctx, row.job_id, true) as Job, created: false };
    }
    const jobId = insertJob(ctx, job, now);
    if (idempotency) {
      // An expired key (decision 'create' with a row) is taken over by the new job.
      stmt(
        ctx,
        `INSERT INTO idempotency_keys (owner, key, request_hash, job_id, expires_at) VALUES (@owner, @key, @requestHash, @jobId, @expiresAt)
         ON CONFLICT (owner, key) DO UPDATE SET request_hash = excluded.request_hash, job_id = excluded.job_id, expires_at = excluded.expires_at`,
      ).run({ owner: idempotency.owner, key: idempotency.key, requestHash: idempotency.requestHash, jobId, expiresAt: now + idempotency.ttlMs });
    }
    return { job: readJob(ctx, jobId, true) as Job, created: true };
  });
}

export function readJob(ctx: Ctx, id: string, withTasks: boolean): Job | null {
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
  validateListFilter(filter);
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
  if (filter.owner !== undefined) {
    where.push('owner = ?');
    params.push(filter.owner);
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
  const tasks = stmt(ctx, 'SELECT status, progress, error, result, finished_at, weight FROM tasks WHERE job_id = ? ORDER BY created_at, id').all(jobId) as TaskRow[];
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
  if (next.status === 'completed' && job.status !== 'completed') trashWorkArtifacts(ctx, jobId, now);
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

/** A completed job's intermediate artifacts: rows gone now, blobs queued for the janitor. */
function trashWorkArtifacts(ctx: Ctx, jobId: string, now: number): void {
  const gone = stmt(ctx, 'DELETE FROM artifacts WHERE job_id = ? AND name >= ? AND name < ? RETURNING key').all(jobId, WORK_ARTIFACTS.from, WORK_ARTIFACTS.to) as { key: string }[];
  const trash = stmt(ctx, 'INSERT INTO blob_trash (key, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING');
  for (const g of gone) trash.run(g.key, now);
}

/** Hands out (and forgets) up to `limit` trashed blob keys. */
export function takeBlobTrash(ctx: Ctx, limit: number): string[] {
  validateLimit('limit', limit);
  return immediate(ctx, () => (stmt(ctx, 'DELETE FROM blob_trash WHERE key IN (SELECT key FROM blob_trash ORDER BY created_at LIMIT ?) RETURNING key').all(limit) as { key: string }[]).map((r) => r.key));
}
