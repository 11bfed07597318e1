// Leases: heartbeats keep a claimed attempt alive; the janitor takes back attempts whose lease
// ran out or whose run deadline passed; nextDueAt tells a long-polling claimer when to look again.
import type { LeaseState, TaskRef } from '../../protocol/api.js';
import { VidfleetError, type ErrorBody } from '../../protocol/errors.js';
import { afterLeaseExpiry, afterRunDeadline, expiryCause, jsonText, taskTimeoutError, workerLostError, type TaskRow } from '../derive.js';
import type { RequeueResult } from '../store.js';
import { HELD_SQL, q, tx, type Ctx } from './connection.js';
import { cancelWaitingSiblings, finishJobs, lockedJobs, withJobLocks, type LockedJobColumns } from './aggregate.js';
import type { NewEvent } from './events.js';
import { seenWorkerCtes } from './workers.js';

// One statement: the worker's liveness and every renewal, atomically, and nothing renewed for an
// unknown worker (the join on w). A canceling task is not renewed: its remaining lease is the
// grace period for the worker to stop and confirm, after which the janitor cancels it for good.
const HEARTBEAT_SQL = `WITH ${seenWorkerCtes(2, 1)}, renewed AS (
    UPDATE tasks SET lease_expires_at = CASE WHEN tasks.status = 'canceling' THEN tasks.lease_expires_at ELSE $3 END
    FROM unnest($4::text[], $5::int[]) AS r(id, attempt), w
    WHERE tasks.id = r.id AND tasks.attempt = r.attempt AND tasks.worker_id = w.id AND tasks.${HELD_SQL}
    RETURNING tasks.id, tasks.attempt, tasks.status
  )
  SELECT NULL AS id, NULL::int AS attempt, 'worker' AS status FROM w
  UNION ALL SELECT id, attempt, status FROM renewed`;

export async function heartbeat(ctx: Ctx, workerId: string, tasks: TaskRef[], leaseMs: number): Promise<{ taskId: string; attempt: number; state: LeaseState }[]> {
  const now = ctx.now();
  // Sorted: for a short list the planner walks the array in order, taking the task locks in id
  // order like every other waiting locker (aggregate.ts).
  const sorted = [...tasks].sort((a, b) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0));
  // In tx(): a deadlock with a claim or a batch of reports locking the same tasks in another
  // order (seen with two coordinators under bench/dispatch) is retried instead of failing the
  // heartbeat; one statement, so the extra BEGIN/COMMIT is the whole cost, once per worker per 3 s.
  const rows = await tx(ctx, (c) => q<{ id: string | null; attempt: number | null; status: string }>(c, HEARTBEAT_SQL, [
    now,
    workerId,
    now + leaseMs,
    sorted.map((t) => t.taskId),
    sorted.map((t) => t.attempt),
  ]));
  if (!rows.some((r) => r.status === 'worker')) throw new VidfleetError('WORKER_NOT_FOUND', `Worker ${workerId} is not registered.`, { details: { workerId } });
  const held = new Map(rows.filter((r) => r.id !== null).map((r) => [`${r.id} ${r.attempt}`, r.status]));
  return tasks.map((t) => {
    const status = held.get(`${t.taskId} ${t.attempt}`);
    const state: LeaseState = status === undefined ? 'lost' : status === 'canceling' ? 'cancel' : 'ok';
    return { taskId: t.taskId, attempt: t.attempt, state };
  });
}

type Expired = Pick<TaskRow, 'id' | 'job_id' | 'status' | 'attempt' | 'max_attempts' | 'worker_id' | 'lease_expires_at' | 'run_deadline_at' | 'max_run_ms'>;

/** Exported so the tests can check its plan: the two partial indexes of held tasks, never the table. */
export const EXPIRED_SQL = `SELECT id, job_id, status, attempt, max_attempts, worker_id, lease_expires_at, run_deadline_at, max_run_ms FROM tasks
  WHERE ${HELD_SQL} AND (lease_expires_at <= $1 OR run_deadline_at <= $1)
  LIMIT $2 FOR UPDATE SKIP LOCKED`;

// Guarded on exactly what was read. The rows are locked, so the guard always holds today; it is
// kept so the statement stays correct on its own. A timeout does not check the lease: renewing it
// does not buy more run time.
const TAKE_BACK_SQL = `UPDATE tasks SET status = u.next, lease_expires_at = NULL, run_deadline_at = NULL,
    error = CASE WHEN u.next = 'canceled' THEN tasks.error ELSE u.error::json END,
    run_after = CASE WHEN u.next = 'pending' THEN $8 ELSE tasks.run_after END,
    finished_at = CASE WHEN u.next = 'pending' THEN tasks.finished_at ELSE $8 END
  FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::bool[], $6::text[], $7::text[]) AS u(id, attempt, was, lease_read, timeout, next, error)
  WHERE tasks.id = u.id AND tasks.attempt = u.attempt AND tasks.status = u.was
    AND (u.timeout OR tasks.lease_expires_at = u.lease_read)
  RETURNING tasks.id`;

/** Per transaction, so row locks are held briefly however many leases ran out at once. */
const BATCH = 500;

/** One batch; answers how many rows it looked at and what it did (counted only once committed). */
async function requeueBatch(ctx: Ctx): Promise<{ seen: number; done: RequeueResult }> {
  return tx(ctx, async (c) => {
    const now = ctx.now();
    const result: RequeueResult = { requeued: 0, failed: 0, canceled: 0 };
    // SKIP LOCKED: another coordinator's janitor, or a worker's write in flight, holds those rows;
    // they are that transaction's to finish, and this one neither waits nor double-counts them.
    // Their jobs are locked in the same round trip: the outcome depends on the job (a task of a
    // job that already failed is not retried).
    const expired = await q<Expired & LockedJobColumns>(c, withJobLocks(EXPIRED_SQL), [now, BATCH]);
    if (expired.length === 0) return { seen: 0, done: result };
    expired.sort((a, b) => (a.lease_expires_at ?? 0) - (b.lease_expires_at ?? 0) || (a.id < b.id ? -1 : 1));
    const jobs = lockedJobs(expired);
    const failedJobs = new Set<string>();
    const plans = expired.map((t) => {
      const timeout = expiryCause({ leaseExpiresAt: t.lease_expires_at, runDeadlineAt: t.run_deadline_at }, now) === 'TASK_TIMEOUT';
      const jobStatus = failedJobs.has(t.job_id) ? 'failed' : jobs.get(t.job_id)?.status;
      const facts = { status: t.status, attempt: t.attempt, maxAttempts: t.max_attempts, jobStatus };
      const next = timeout ? afterRunDeadline(facts) : afterLeaseExpiry(facts);
      if (next === 'failed') failedJobs.add(t.job_id);
      const who = { workerId: t.worker_id, attempt: t.attempt, maxAttempts: t.max_attempts };
      const error: ErrorBody = timeout ? taskTimeoutError({ ...who, maxRunMs: t.max_run_ms }) : workerLostError(who);
      return { t, timeout, next, error };
    });
    const taken = new Set(
      (
        await q<{ id: string }>(c, TAKE_BACK_SQL, [
          plans.map((p) => p.t.id),
          plans.map((p) => p.t.attempt),
          plans.map((p) => p.t.status),
          plans.map((p) => p.t.lease_expires_at),
          plans.map((p) => p.timeout),
          plans.map((p) => p.next),
          plans.map((p) => jsonText(p.error)),
          now,
        ])
      ).map((r) => r.id),
    );
    const events: NewEvent[] = [];
    for (const { t, timeout, next, error } of plans.filter((p) => taken.has(p.t.id))) {
      const base = { jobId: t.job_id, taskId: t.id };
      events.push(
        timeout
          ? { ...base, type: 'task.timed_out', data: { attempt: t.attempt, workerId: t.worker_id, runDeadlineAt: t.run_deadline_at, maxRunMs: t.max_run_ms } }
          : { ...base, type: 'task.lease_expired', data: { attempt: t.attempt, workerId: t.worker_id, leaseExpiresAt: t.lease_expires_at } },
      );
      if (next === 'pending') {
        result.requeued++;
      } else if (next === 'failed') {
        result.failed++;
        events.push({ ...base, type: 'task.failed', data: { attempt: t.attempt, error } });
      } else {
        result.canceled++;
        events.push({ ...base, type: 'task.canceled', data: { attempt: t.attempt, workerId: t.worker_id, reason: 'the worker did not confirm the cancel in time' } });
      }
    }
    events.push(...(await cancelWaitingSiblings(c, now, [...failedJobs])));
    await finishJobs(c, now, jobs, events);
    return { seen: expired.length, done: result };
  });
}

export async function requeueExpiredLeases(ctx: Ctx): Promise<RequeueResult> {
  const total: RequeueResult = { requeued: 0, failed: 0, canceled: 0 };
  for (;;) {
    const { seen, done } = await requeueBatch(ctx);
    total.requeued += done.requeued;
    total.failed += done.failed;
    total.canceled += done.canceled;
    if (seen < BATCH) return total;
  }
}

export async function nextDueAt(ctx: Ctx, kinds: string[]): Promise<number | null> {
  if (kinds.length === 0) return null;
  // tasks_due is in run_after order: the first pending entry of one of these kinds is the answer.
  const [row] = await q<{ due: number | null }>(
    ctx.pool,
    `SELECT run_after AS due FROM tasks WHERE status = 'pending' AND waiting_on = 0 AND kind = ANY($1::text[]) ORDER BY run_after LIMIT 1`,
    [[...new Set(kinds)]],
  );
  return row?.due ?? null;
}
