// Claiming: hand up to `max` due pending tasks of the worker's kinds to it, in one statement.
//
// FOR UPDATE SKIP LOCKED makes concurrent claimers pass over each other's rows instead of
// queueing on them, so no two ever take the same task and none waits for another. The candidate
// scan runs per kind (a LATERAL over the kinds) because each is then a range scan of tasks_claim
// already in hand-out order that stops after `max` rows. A single `kind = ANY(…) ORDER BY priority`
// scan has no index in that order across kinds: PostgreSQL 15 plans it as a seq scan and a sort
// of every pending task of those kinds (138 ms for a claim of 10 with 200k pending, measured).
// Measured (test/store/postgres.test.ts with VIDFLEET_PG_1M=1), a claim of 10 over 2 kinds takes
// p50 2.19 / 2.13 / 2.14 ms with 10k / 100k / 1M pending tasks: flat. The scan does read past
// pending tasks that are not due yet (run_after is only a filter), so a mass of retries in backoff
// at the head of the queue slows claims until they come due.
import type { ClaimedTask } from '../../protocol/api.js';
import { VidfleetError } from '../../protocol/errors.js';
import { claimedToWire, isTerminalJob, type TaskRow } from '../derive.js';
import { CANCEL_REASONS } from '../derive.js';
import type { ClaimRequest } from '../store.js';
import { COLS, exec, q, tx, type Ctx } from './connection.js';
import { finishJobs, lockedJobs, withJobLocks, type LockedJobColumns } from './aggregate.js';
import type { NewEvent } from './events.js';
import { seenWorkerCtes } from './workers.js';

/**
 * Exported so the tests can check its plan. A claim is a sign of life like a heartbeat (w), and
 * claims nothing for an unknown worker. At most kinds × max rows are locked; those not chosen
 * across kinds stay locked, unchanged, until commit, which only makes a concurrent claimer pass
 * them by for a moment. `chosen` hands the previous worker_id to RETURNING, for the rare claim
 * undone below. withJobLocks then locks the claimed tasks' jobs in the same round trip.
 */
export const CLAIM_SQL = withJobLocks(
  `UPDATE tasks SET status = 'assigned', attempt = tasks.attempt + 1, worker_id = $1, lease_expires_at = $4,
      run_deadline_at = $3 + tasks.max_run_ms, started_at = NULL
    FROM (
      SELECT c.id, c.worker_id FROM unnest($2::text[]) AS k(kind)
      CROSS JOIN LATERAL (
        SELECT id, priority, created_at, worker_id FROM tasks
        WHERE status = 'pending' AND waiting_on = 0 AND kind = k.kind AND run_after <= $3 AND (requires IS NULL OR requires <@ $6::text[])
        ORDER BY priority DESC, created_at, id
        LIMIT $5 FOR UPDATE SKIP LOCKED
      ) c
      WHERE EXISTS (SELECT 1 FROM w)
      ORDER BY c.priority DESC, c.created_at, c.id
      LIMIT $5
    ) chosen
    WHERE tasks.id = chosen.id
    RETURNING ${COLS.task('tasks')}, chosen.worker_id AS prev_worker_id`,
  seenWorkerCtes(1, 3),
);

type Claimed = TaskRow & LockedJobColumns & { prev_worker_id: string | null };

function handOutOrder(a: TaskRow, b: TaskRow): number {
  return b.priority - a.priority || a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export async function claimTasks(ctx: Ctx, request: ClaimRequest): Promise<ClaimedTask[]> {
  const kinds = [...new Set(request.kinds)];
  const max = Math.floor(request.max);
  if (kinds.length === 0 || !(max >= 1)) return [];
  return tx(ctx, async (c) => {
    const now = ctx.now();
    const lease = now + request.leaseMs;
    const rows = await q<Claimed>(c, CLAIM_SQL, [request.workerId, kinds, now, lease, max, request.capabilities ?? []]);
    if (rows.length === 0) {
      // Empty for an unknown worker or an empty queue; only then is it worth a second look.
      const [known] = await q<{ id: string }>(c, 'SELECT id FROM workers WHERE id = $1', [request.workerId]);
      if (!known) throw new VidfleetError('WORKER_NOT_FOUND', `Worker ${request.workerId} is not registered.`, { details: { workerId: request.workerId } });
      return [];
    }
    rows.sort(handOutOrder);
    const jobs = lockedJobs(rows);
    // A task whose job ended while it was being claimed (a sibling failed and skipped it, see
    // cancelWaitingSiblings) is canceled here instead of handed out.
    const isDead = (r: Claimed) => {
      const status = jobs.get(r.job_id)?.status;
      return status === undefined || isTerminalJob(status) || status === 'canceling';
    };
    const dead = rows.filter(isDead);
    const live = rows.filter((r) => !isDead(r));
    const events: NewEvent[] = live.map((r) => ({
      jobId: r.job_id,
      taskId: r.id,
      type: 'task.claimed',
      data: { attempt: r.attempt, workerId: request.workerId, leaseExpiresAt: lease },
    }));
    if (dead.length > 0) {
      await exec(
        c,
        `UPDATE tasks SET status = 'canceled', attempt = tasks.attempt - 1, worker_id = u.prev, lease_expires_at = NULL, run_deadline_at = NULL, finished_at = $3
         FROM unnest($1::text[], $2::text[]) AS u(id, prev) WHERE tasks.id = u.id`,
        [dead.map((r) => r.id), dead.map((r) => r.prev_worker_id), now],
      );
      for (const r of dead) {
        events.push({ jobId: r.job_id, taskId: r.id, type: 'task.canceled', data: { reason: jobs.get(r.job_id)?.status === 'failed' ? CANCEL_REASONS.siblingFailed : CANCEL_REASONS.byUser } });
      }
    }
    await finishJobs(c, now, jobs, events);
    return live.map((r) => claimedToWire(r));
  });
}
