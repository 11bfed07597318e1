// The fleet's event log as readers see it: rows to wire events, and the cursors they resume
// from. SQLite's cursor is the event id (one writer: ids commit in order); PostgreSQL's is
// "tx.id" (see migration 6 there).
import { VidfleetError } from '../protocol/errors.js';
import type { FeedEvent } from '../protocol/model.js';
import { parseJson, toIso, validateLimit, type EventRow } from './derive.js';

/** A running task's progress is logged as an event at most this often (progress reports come every ~1 s or faster). */
export const PROGRESS_EVENT_INTERVAL_MS = 2_000;

/** Why a worker went offline or came back, in its worker.* event. */
export const WORKER_EVENT_REASONS = {
  registered: 'registered',
  deregistered: 'deregistered (drained or stopped)',
  silent: 'no heartbeat or claim within the offline timeout',
  seenAgain: 'heard from again (heartbeat or claim) after being offline',
} as const;

export interface FeedRow extends Omit<EventRow, 'job_id'> {
  job_id: string | null;
  worker_id: string | null;
}

export function feedEventToWire(row: FeedRow, cursor: string): FeedEvent {
  return {
    cursor,
    id: Number(row.id),
    type: row.type,
    jobId: row.job_id,
    taskId: row.task_id,
    workerId: row.worker_id,
    data: (typeof row.data === 'string' ? parseJson<Record<string, unknown>>(row.data) : (row.data as Record<string, unknown> | null)) ?? {},
    createdAt: toIso(Number(row.created_at)),
  };
}

/** A feed cursor the caller gave back: `parts` decimal integers joined by ".", else VALIDATION_FAILED. */
export function parseFeedCursor(cursor: string, parts: 1 | 2): bigint[] {
  const pieces = cursor.split('.');
  if (pieces.length !== parts || !pieces.every((p) => /^\d{1,19}$/.test(p))) {
    throw new VidfleetError('VALIDATION_FAILED', `"${cursor.slice(0, 60)}" is not an event cursor of this coordinator; give the cursor (SSE id) of an event it sent, or none to start from the oldest.`);
  }
  return pieces.map((p) => BigInt(p));
}

export function validateFeedQuery(query: { limit: number }): void {
  validateLimit('limit', query.limit);
}

/**
 * Tells readers of the feed that events were appended. `soon()` fires after the current turn of
 * the event loop: a SQLite transaction (synchronous) has committed by then, or rolled back, in
 * which case the readers find nothing new — a wasted read, never a missed event.
 */
export class FeedSignal {
  private readonly listeners = new Set<() => void>();
  private scheduled = false;

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  soon(): void {
    if (this.scheduled || this.listeners.size === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.fire();
    });
  }

  fire(): void {
    for (const listener of this.listeners) listener();
  }
}

/** Whether a progress report is logged as a task.progress event: a value, and none logged lately. */
export function progressEventDue(progress: number | null, lastLoggedAt: number | null, now: number): progress is number {
  return progress !== null && (lastLoggedAt === null || now - lastLoggedAt >= PROGRESS_EVENT_INTERVAL_MS);
}
