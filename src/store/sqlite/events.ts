// The event log. A job's events are appended inside the transaction of the change they describe,
// so a reader never sees an event for a change that was rolled back; worker events likewise.
// One writer at a time (SQLite's lock) means ids commit in order: the feed's cursor is the id.
import { eventToWire, jsonText, type EventRow, type StoreEventType } from '../derive.js';
import { feedEventToWire, parseFeedCursor, validateFeedQuery, type FeedRow } from '../feed.js';
import type { FeedQuery, JobEvent } from '../store.js';
import type { FeedEvent } from '../../protocol/model.js';
import { stmt, type Ctx } from './connection.js';

const INSERT_SQL = 'INSERT INTO events (job_id, task_id, worker_id, type, data, created_at) VALUES (?, ?, ?, ?, ?, ?)';

export function appendEvent(ctx: Ctx, jobId: string, taskId: string | null, type: StoreEventType, data: Record<string, unknown>): void {
  stmt(ctx, INSERT_SQL).run(jobId, taskId, null, type, jsonText(data), ctx.now());
  ctx.feed.soon();
}

export function appendWorkerEvent(ctx: Ctx, workerId: string, type: 'worker.online' | 'worker.offline', data: Record<string, unknown>): void {
  stmt(ctx, INSERT_SQL).run(null, null, workerId, type, jsonText(data), ctx.now());
  ctx.feed.soon();
}

export function listEvents(ctx: Ctx, jobId: string, afterId = 0): JobEvent[] {
  const rows = stmt(ctx, 'SELECT * FROM events WHERE job_id = ? AND id > ? ORDER BY id').all(jobId, afterId) as EventRow[];
  return rows.map(eventToWire);
}

export function listFeed(ctx: Ctx, query: FeedQuery): FeedEvent[] {
  validateFeedQuery(query);
  const after = query.after === undefined ? 0 : Number(parseFeedCursor(query.after, 1)[0]);
  const rows = (
    query.jobId === undefined
      ? stmt(ctx, 'SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?').all(after, query.limit)
      : stmt(ctx, 'SELECT * FROM events WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?').all(query.jobId, after, query.limit)
  ) as FeedRow[];
  return rows.map((r) => feedEventToWire(r, String(r.id)));
}

export function latestFeedCursor(ctx: Ctx): string | null {
  const row = stmt(ctx, 'SELECT max(id) AS id FROM events').get() as { id: number | null };
  return row.id === null ? null : String(row.id);
}
