// Jobs: creation (idempotent when asked), reads and listing.
import type { Job } from '../../protocol/model.js';
import {
  idempotencyConflict,
  idempotencyDecision,
  jobToWire,
  jsonText,
  validateIdempotency,
  validateListFilter,
  validateNewJob,
  type IdempotencyKeyRow,
  type JobRow,
  type TaskRow,
} from '../derive.js';
import { newId } from '../ids.js';
import type { IdempotencyOptions, ListJobsFilter, NewJob } from '../store.js';
import { COLS, exec, q, snapshot, tx, type Client, type Ctx } from './connection.js';
import { insertTasks } from './dag.js';
import { appendEvents } from './events.js';

/**
 * Takes (owner, key) for a new job `jobId`, or answers the job the key already names. A
 * concurrent submission with the same key waits on the primary key until the first commits
 * (then sees its row) or rolls back (then inserts), so one key yields exactly one job.
 */
async function takeKey(c: Client, o: IdempotencyOptions, jobId: string, now: number): Promise<string | null> {
  const args = [o.owner, o.key, o.requestHash, jobId, now + o.ttlMs];
  for (;;) {
    const inserted = await exec(
      c,
      `INSERT INTO idempotency_keys (owner, key, request_hash, job_id, expires_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      args,
    );
    if (inserted === 1) return null;
    const [row] = await q<Pick<IdempotencyKeyRow, 'request_hash' | 'job_id' | 'expires_at'>>(
      c,
      'SELECT request_hash, job_id, expires_at FROM idempotency_keys WHERE owner = $1 AND key = $2 FOR UPDATE',
      [o.owner, o.key],
    );
    // Pruned between the two statements: the key is free again.
    if (!row) continue;
    const decision = idempotencyDecision(row, o.requestHash, now);
    if (decision === 'replay') return row.job_id;
    if (decision === 'conflict') throw idempotencyConflict(o, row.job_id);
    await exec(c, 'UPDATE idempotency_keys SET request_hash = $3, job_id = $4, expires_at = $5 WHERE owner = $1 AND key = $2', args);
    return null;
  }
}

export async function createJob(ctx: Ctx, job: NewJob, idempotency?: IdempotencyOptions): Promise<{ job: Job; created: boolean }> {
  validateNewJob(job);
  if (idempotency) validateIdempotency(idempotency);
  return tx(ctx, async (c) => {
    const now = ctx.now();
    const jobId = newId('job');
    const existing = idempotency ? await takeKey(c, idempotency, jobId, now) : null;
    if (existing !== null) return { job: (await readJob(c, existing, true)) as Job, created: false };
    await exec(
      c,
      `INSERT INTO jobs (id, kind, input, params, priority, status, progress, created_at, updated_at, owner)
       VALUES ($1, $2, $3, $4::json, $5, 'pending', 0, $6, $6, $7)`,
      [jobId, job.kind, job.input, jsonText(job.params), job.priority, now, job.owner ?? null],
    );
    const taskIds = await insertTasks(c, ctx, jobId, job.priority, job.tasks, now);
    // The job row is new and unseen by others until commit, so no job lock is needed here.
    await appendEvents(c, now, [{ jobId, taskId: null, type: 'job.created', data: { kind: job.kind, input: job.input, priority: job.priority, tasks: taskIds } }]);
    return { job: (await readJob(c, jobId, true)) as Job, created: true };
  });
}

export async function readJob(c: Client, id: string, withTasks: boolean): Promise<Job | null> {
  const [row] = await q<JobRow>(c, `SELECT ${COLS.job()} FROM jobs WHERE id = $1`, [id]);
  if (!row) return null;
  return jobToWire(row, withTasks ? await q<TaskRow>(c, `SELECT ${COLS.task()} FROM tasks WHERE job_id = $1 ORDER BY created_at, id`, [id]) : undefined);
}

export async function getJob(ctx: Ctx, id: string, withTasks: boolean): Promise<Job | null> {
  if (!withTasks) {
    const [row] = await q<JobRow>(ctx.pool, `SELECT ${COLS.job()} FROM jobs WHERE id = $1`, [id]);
    return row ? jobToWire(row) : null;
  }
  // One snapshot: the job's derived state agrees with the tasks shown beside it.
  return snapshot(ctx, (c) => readJob(c, id, true));
}

export async function listJobs(ctx: Ctx, filter: ListJobsFilter): Promise<{ jobs: Job[]; nextCursor: string | null }> {
  validateListFilter(filter);
  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (sql: string, value: string) => {
    params.push(value);
    where.push(`${sql} $${params.length}`);
  };
  if (filter.status !== undefined) add('status =', filter.status);
  if (filter.kind !== undefined) add('kind =', filter.kind);
  if (filter.owner !== undefined) add('owner =', filter.owner);
  if (filter.cursor !== undefined) add('id <', filter.cursor);
  params.push(filter.limit + 1);
  // One row more than asked tells whether another page exists, so the last page says so.
  const sql = `SELECT ${COLS.job()} FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`;
  const rows = await q<JobRow>(ctx.pool, sql, params);
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return { jobs: page.map((r) => jobToWire(r)), nextCursor: rows.length > filter.limit && last ? last.id : null };
}
