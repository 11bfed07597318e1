// The per-job event log. Appended inside the transaction of the change it describes, so a
// reader following the log never sees an event for a change that was rolled back.
import { eventToWire, jsonText, type EventRow, type StoreEventType } from '../derive.js';
import type { JobEvent } from '../store.js';
import { stmt, type Ctx } from './connection.js';

export function appendEvent(ctx: Ctx, jobId: string, taskId: string | null, type: StoreEventType, data: Record<string, unknown>): void {
  stmt(ctx, 'INSERT INTO events (job_id, task_id, type, data, created_at) VALUES (?, ?, ?, ?, ?)').run(jobId, taskId, type, jsonText(data), ctx.now());
}

export function listEvents(ctx: Ctx, jobId: string, afterId = 0): JobEvent[] {
  const rows = stmt(ctx, 'SELECT * FROM events WHERE job_id = ? AND id > ? ORDER BY id').all(jobId, afterId) as EventRow[];
  return rows.map(eventToWire);
}
