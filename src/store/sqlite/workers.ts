// Workers: registration and reads. Liveness (last_heartbeat_at) is written by heartbeat().
import type { Worker, WorkerCapabilities } from '../../protocol/model.js';
import { jsonText, workerToWire, type WorkerRow } from '../derive.js';
import { newId } from '../ids.js';
import { stmt, type Ctx } from './connection.js';

export function registerWorker(ctx: Ctx, worker: { name: string; hostname: string; capabilities: WorkerCapabilities }): Worker {
  const now = ctx.now();
  const row = stmt(
    ctx,
    `INSERT INTO workers (id, name, hostname, capabilities, status, registered_at, last_heartbeat_at)
     VALUES (?, ?, ?, ?, 'online', ?, ?) RETURNING *`,
  ).get(newId('wkr'), worker.name, worker.hostname, jsonText(worker.capabilities), now, now) as WorkerRow;
  return workerToWire(row);
}

export function getWorker(ctx: Ctx, id: string): Worker | null {
  const row = stmt(ctx, 'SELECT * FROM workers WHERE id = ?').get(id) as WorkerRow | undefined;
  return row ? workerToWire(row) : null;
}

export function listWorkers(ctx: Ctx): Worker[] {
  return (stmt(ctx, 'SELECT * FROM workers ORDER BY id').all() as WorkerRow[]).map(workerToWire);
}
