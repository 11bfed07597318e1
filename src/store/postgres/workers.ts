// Workers: registration, goodbye, reads, and the janitor's sweep for silent ones. last_heartbeat_at
// ("last seen") is written by heartbeat() and claimTasks(), which also bring an offline worker back.
import { VidfleetError } from '../../protocol/errors.js';
import type { Worker, WorkerCapabilities } from '../../protocol/model.js';
import { jsonText, validateDuration, workerToWire, type WorkerRow } from '../derive.js';
import { newId } from '../ids.js';
import { WORKER_EVENT_REASONS } from '../feed.js';
import { COLS, HELD_SQL, q, type Ctx } from './connection.js';

/** A JSON literal for SQL text; the reasons are our own constants. */
const reasonJson = (reason: string): string => `'${JSON.stringify({ reason }).replace(/'/g, "''")}'::json`;

/**
 * CTEs for "heard from this worker" ($id, $now: parameter numbers): online again with its stamp,
 * and a worker.online event when it had been offline. \`w\` answers the worker's id when it is
 * registered. The sub-select hands the status before the update to the event (PostgreSQL
 * before 18 has no OLD in RETURNING).
 */
export function seenWorkerCtes(id: number, now: number): string {
  return `w AS (
      UPDATE workers SET status = 'online', last_heartbeat_at = $${now}
      FROM (SELECT id, status FROM workers WHERE id = $${id} FOR UPDATE) was
      WHERE workers.id = was.id RETURNING workers.id, was.status AS was_status
    ), w_event AS (
      INSERT INTO events (worker_id, type, data, created_at)
      SELECT id, 'worker.online', ${reasonJson(WORKER_EVENT_REASONS.seenAgain)}, $${now} FROM w WHERE was_status = 'offline'
    )`;
}

export async function registerWorker(ctx: Ctx, worker: { name: string; hostname: string; capabilities: WorkerCapabilities; owner?: string | null }): Promise<Worker> {
  const now = ctx.now();
  const event = { reason: WORKER_EVENT_REASONS.registered, name: worker.name, hostname: worker.hostname, kinds: worker.capabilities.kinds };
  const [row] = await q<WorkerRow>(
    ctx.pool,
    `WITH w AS (
       INSERT INTO workers (id, name, hostname, capabilities, status, registered_at, last_heartbeat_at, owner)
       VALUES ($1, $2, $3, $4::json, 'online', $5, $5, $7) RETURNING ${COLS.worker}
     ), ev AS (
       INSERT INTO events (worker_id, type, data, created_at) SELECT id, 'worker.online', $6::json, $5 FROM w
     )
     SELECT * FROM w`,
    [newId('wkr'), worker.name, worker.hostname, jsonText(worker.capabilities), now, jsonText(event), worker.owner ?? null],
  );
  return workerToWire(row as WorkerRow);
}

/**
 * A worker says goodbye (drain done, or aborting): offline, and any attempt it still holds gets
 * its lease cut to now, so the janitor's next pass hands it on instead of waiting out the lease.
 * One statement; the task locks are taken in id order (aggregate.ts).
 */
export async function deregisterWorker(ctx: Ctx, workerId: string): Promise<void> {
  const [row] = await q<{ found: boolean }>(
    ctx.pool,
    `WITH w AS (
       UPDATE workers SET status = 'offline'
       FROM (SELECT id, status FROM workers WHERE id = $1 FOR UPDATE) was
       WHERE workers.id = was.id RETURNING workers.id, was.status AS was_status
     ), ev AS (
       INSERT INTO events (worker_id, type, data, created_at)
       SELECT id, 'worker.offline', ${reasonJson(WORKER_EVENT_REASONS.deregistered)}, $2 FROM w WHERE was_status = 'online'
     ),
     cut AS (
       UPDATE tasks SET lease_expires_at = $2
       WHERE id IN (SELECT id FROM tasks WHERE ${HELD_SQL} AND worker_id = $1 AND lease_expires_at > $2 ORDER BY id FOR UPDATE)
         AND lease_expires_at > $2 AND EXISTS (SELECT 1 FROM w)
     )
     SELECT EXISTS (SELECT 1 FROM w) AS found`,
    [workerId, ctx.now()],
  );
  if (!row?.found) throw new VidfleetError('WORKER_NOT_FOUND', `Worker ${workerId} is not registered.`, { details: { workerId } });
}

export async function getWorker(ctx: Ctx, id: string): Promise<Worker | null> {
  const [row] = await q<WorkerRow>(ctx.pool, `SELECT ${COLS.worker} FROM workers WHERE id = $1`, [id]);
  return row ? workerToWire(row) : null;
}

export async function listWorkers(ctx: Ctx): Promise<Worker[]> {
  return (await q<WorkerRow>(ctx.pool, `SELECT ${COLS.worker} FROM workers ORDER BY id`)).map(workerToWire);
}

/**
 * One guarded UPDATE: on several coordinators at once each worker is switched (and counted)
 * by exactly one of them, and a heartbeat that lands first keeps its worker online.
 */
export async function markSilentWorkersOffline(ctx: Ctx, silentMs: number): Promise<number> {
  validateDuration('silentMs', silentMs);
  const [row] = await q<{ n: number }>(
    ctx.pool,
    `WITH gone AS (
       UPDATE workers SET status = 'offline' WHERE status = 'online' AND last_heartbeat_at <= $1 RETURNING id
     ), ev AS (
       INSERT INTO events (worker_id, type, data, created_at) SELECT id, 'worker.offline', $3::json, $2 FROM gone
     )
     SELECT count(*)::int AS n FROM gone`,
    [ctx.now() - silentMs, ctx.now(), jsonText({ reason: WORKER_EVENT_REASONS.silent, silentMs })],
  );
  return row?.n ?? 0;
}
