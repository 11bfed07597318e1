// Workers: registration, goodbye, liveness and reads. last_heartbeat_at ("last seen") is written
// by heartbeat() and claimTasks(), both of which also bring an offline worker back online.
import { VidfleetError } from '../../protocol/errors.js';
import type { Worker, WorkerCapabilities } from '../../protocol/model.js';
import { jsonText, validateDuration, workerToWire, type WorkerRow } from '../derive.js';
import { newId } from '../ids.js';
import { WORKER_EVENT_REASONS } from '../feed.js';
import { HELD_SQL, immediate, stmt, type Ctx } from './connection.js';
import { appendWorkerEvent } from './events.js';

export function registerWorker(ctx: Ctx, worker: { name: string; hostname: string; capabilities: WorkerCapabilities; owner?: string | null }): Worker {
  return immediate(ctx, () => {
    const now = ctx.now();
    const row = stmt(
      ctx,
      `INSERT INTO workers (id, name, hostname, capabilities, status, registered_at, last_heartbeat_at, owner)
       VALUES (?, ?, ?, ?, 'online', ?, ?, ?) RETURNING *`,
    ).get(newId('wkr'), worker.name, worker.hostname, jsonText(worker.capabilities), now, now, worker.owner ?? null) as WorkerRow;
    appendWorkerEvent(ctx, row.id, 'worker.online', { reason: WORKER_EVENT_REASONS.registered, name: worker.name, hostname: worker.hostname, kinds: worker.capabilities.kinds });
    return workerToWire(row);
  });
}

/** Brings a worker heard from again back online, with its event; call inside an IMMEDIATE transaction. */
export function markSeen(ctx: Ctx, workerId: string, wasOnline: boolean, now: number): void {
  stmt(ctx, `UPDATE workers SET status = 'online', last_heartbeat_at = ? WHERE id = ?`).run(now, workerId);
  if (!wasOnline) appendWorkerEvent(ctx, workerId, 'worker.online', { reason: WORKER_EVENT_REASONS.seenAgain });
}

export function getWorker(ctx: Ctx, id: string): Worker | null {
  const row = stmt(ctx, 'SELECT * FROM workers WHERE id = ?').get(id) as WorkerRow | undefined;
  return row ? workerToWire(row) : null;
}

export function listWorkers(ctx: Ctx): Worker[] {
  return (stmt(ctx, 'SELECT * FROM workers ORDER BY id').all() as WorkerRow[]).map(workerToWire);
}

/**
 * A worker says goodbye (drain done, or aborting). Marked offline. Any attempt it still holds
 * gets its lease cut to now, so the janitor's next pass hands it on instead of waiting out the
 * lease (a worker that said goodbye is not coming back for it). Throws WORKER_NOT_FOUND.
 */
export function deregisterWorker(ctx: Ctx, workerId: string): void {
  immediate(ctx, () => {
    const now = ctx.now();
    const seen = stmt(ctx, 'SELECT status FROM workers WHERE id = ?').get(workerId) as Pick<WorkerRow, 'status'> | undefined;
    if (!seen) throw new VidfleetError('WORKER_NOT_FOUND', `Worker ${workerId} is not registered.`, { details: { workerId } });
    stmt(ctx, `UPDATE workers SET status = 'offline' WHERE id = ?`).run(workerId);
    if (seen.status === 'online') appendWorkerEvent(ctx, workerId, 'worker.offline', { reason: WORKER_EVENT_REASONS.deregistered });
    stmt(ctx, `UPDATE tasks SET lease_expires_at = @now WHERE ${HELD_SQL} AND worker_id = @workerId AND lease_expires_at > @now`).run({ workerId, now });
  });
}

const SILENT_WORKERS_SQL = `UPDATE workers SET status = 'offline' WHERE status = 'online' AND last_heartbeat_at <= ? RETURNING id`;

/** Workers not heard from (heartbeat or claim) for `silentMs` or more become offline. */
export function markSilentWorkersOffline(ctx: Ctx, silentMs: number): number {
  validateDuration('silentMs', silentMs);
  return immediate(ctx, () => {
    const gone = stmt(ctx, SILENT_WORKERS_SQL).all(ctx.now() - silentMs) as { id: string }[];
    for (const w of gone) appendWorkerEvent(ctx, w.id, 'worker.offline', { reason: WORKER_EVENT_REASONS.silent, silentMs });
    return gone.length;
  });
}
