// Claiming: hand up to `max` due pending tasks of the worker's kinds to it, atomically.
//
// One IMMEDIATE transaction holds SQLite's single write lock from the first read, so no other
// connection (or process) can pick the same rows between our SELECT and UPDATE. The candidate
// query runs once per kind because each is then one range scan of tasks_claim already in
// hand-out order; an IN over kinds would make SQLite gather every pending task of those kinds and
// sort them. At most kinds × max candidates are merged here.
import type { ClaimedTask } from '../../protocol/api.js';
import { VidfleetError } from '../../protocol/errors.js';
import { claimedToWire, type TaskRow } from '../derive.js';
import type { ClaimRequest } from '../store.js';
import { immediate, stmt, type Ctx } from './connection.js';
import { appendEvent } from './events.js';
import { recomputeJob } from './jobs.js';
import { markSeen } from './workers.js';

type Candidate = Pick<TaskRow, 'id' | 'priority' | 'created_at'>;

/** How stale a worker's last-seen stamp may get before a claim rewrites it (far below workerOfflineMs). */
const LIVENESS_STAMP_MS = 1_000;

/**
 * Exported so the SQLite tests can check its query plan. INDEXED BY: reading `requires` makes
 * tasks_claim no longer covering, and without statistics the planner then prefers tasks_due
 * (kind, run_after) and sorts every pending task of the kind.
 */
export const CLAIM_CANDIDATES_SQL = `SELECT id, priority, created_at FROM tasks INDEXED BY tasks_claim
  WHERE status = 'pending' AND waiting_on = 0 AND kind = @kind AND run_after <= @now
    AND (requires IS NULL OR NOT EXISTS (
      SELECT 1 FROM json_each(tasks.requires) r WHERE r.value NOT IN (SELECT value FROM json_each(@caps))))
  ORDER BY priority DESC, created_at, id LIMIT @max`;

/**
 * The same hand-out order without the requirements filter, reading `requires` instead: nearly
 * every task requires nothing, and this answers in 8.7 µs where the filtered query takes 20 µs
 * even when it finds nothing (14 KB of capability JSON bound, json_each set up; measured on
 * 5,000 tasks). Only when a candidate it finds has requirements does the claim run the filtered
 * query. INDEXED BY for the reason given above.
 */
export const CLAIM_UNFILTERED_SQL = `SELECT id, priority, created_at, requires FROM tasks INDEXED BY tasks_claim
  WHERE status = 'pending' AND waiting_on = 0 AND kind = @kind AND run_after <= @now
  ORDER BY priority DESC, created_at, id LIMIT @max`;

// run_deadline_at is fixed here for the whole attempt (NULL + n is NULL: old rows get none).
const TAKE_SQL = `UPDATE tasks SET status = 'assigned', attempt = attempt + 1, worker_id = @workerId,
    lease_expires_at = @lease, run_deadline_at = @now + max_run_ms, started_at = NULL
  WHERE id = @id AND status = 'pending'
  RETURNING *`;

function handOutOrder(a: Candidate, b: Candidate): number {
  return b.priority - a.priority || a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

const NO_CAPABILITIES: readonly string[] = [];
// The coordinator passes the same token array for every claim of a worker: its JSON (~14 KB for
// a stock ffmpeg, ~30 µs to build) is made once.
const capabilitiesJsonCache = new WeakMap<readonly string[], string>();
function capabilitiesJson(tokens: readonly string[]): string {
  let json = capabilitiesJsonCache.get(tokens);
  if (json === undefined) {
    json = JSON.stringify(tokens);
    capabilitiesJsonCache.set(tokens, json);
  }
  return json;
}

export function claimTasks(ctx: Ctx, request: ClaimRequest): ClaimedTask[] {
  const kinds = [...new Set(request.kinds)];
  const max = Math.floor(request.max);
  if (kinds.length === 0 || !(max >= 1)) return [];
  return immediate(ctx, () => {
    const now = ctx.now();
    // A claim is a sign of life like a heartbeat: it brings an offline worker back online. The
    // stamp is refreshed at most once a second, so an empty claim (a long poll woken for a task
    // another worker took) writes nothing and its commit costs no WAL write.
    const worker = stmt(ctx, 'SELECT status, last_heartbeat_at FROM workers WHERE id = ?').get(request.workerId) as
      | { status: string; last_heartbeat_at: number }
      | undefined;
    if (!worker) throw new VidfleetError('WORKER_NOT_FOUND', `Worker ${request.workerId} is not registered.`, { details: { workerId: request.workerId } });
    if (worker.status !== 'online' || now - worker.last_heartbeat_at >= LIVENESS_STAMP_MS) markSeen(ctx, request.workerId, worker.status === 'online', now);
    // A task whose requirements this worker lacks is passed over (requires is a residual filter
    // on the index scan; tasks without requirements, the usual case, pass it at once).
    const candidates = kinds.flatMap((kind) => {
      const plain = stmt(ctx, CLAIM_UNFILTERED_SQL).all({ kind, now, max }) as (Candidate & { requires: string | null })[];
      if (plain.every((c) => c.requires === null)) return plain;
      const caps = capabilitiesJson(request.capabilities ?? NO_CAPABILITIES);
      return stmt(ctx, CLAIM_CANDIDATES_SQL).all({ kind, now, max, caps }) as Candidate[];
    });
    const chosen = candidates.sort(handOutOrder).slice(0, max);
    const lease = now + request.leaseMs;
    const claimed: ClaimedTask[] = [];
    const jobs = new Set<string>();
    for (const c of chosen) {
      // The status guard is what makes this safe on a dialect without a global write lock.
      const row = stmt(ctx, TAKE_SQL).get({ id: c.id, workerId: request.workerId, lease, now }) as TaskRow | undefined;
      if (!row) continue;
      appendEvent(ctx, row.job_id, row.id, 'task.claimed', { attempt: row.attempt, workerId: request.workerId, leaseExpiresAt: lease });
      jobs.add(row.job_id);
      claimed.push(claimedToWire(row));
    }
    for (const jobId of jobs) recomputeJob(ctx, jobId);
    return claimed;
  });
}
