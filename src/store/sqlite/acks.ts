// Batched acknowledgements: a worker's "started" and "completed" reports for many attempts,
// applied in one IMMEDIATE transaction (one WAL commit for the batch instead of one per report).
import type { AckState, LeaseState } from '../../protocol/api.js';
import { VidfleetError } from '../../protocol/errors.js';
import type { TaskRow } from '../derive.js';
import type { TaskAcks } from '../store.js';
import { immediate, stmt, type Ctx } from './connection.js';
import { completeHeld } from './complete.js';
import { progressHeld } from './fence.js';

/** A refused report wrote nothing (the held-check throws first), so the batch goes on. */
function refused(err: unknown): boolean {
  return err instanceof VidfleetError && (err.code === 'STALE_ATTEMPT' || err.code === 'TASK_NOT_FOUND');
}

/**
 * A completion the coordinator already applied (the worker re-sent it because the response was
 * lost) is acknowledged again rather than reported lost: the result the worker holds is stored.
 */
function alreadyCompleted(ctx: Ctx, taskId: string, attempt: number, workerId: string): boolean {
  const row = stmt(ctx, 'SELECT status, attempt, worker_id FROM tasks WHERE id = ?').get(taskId) as Pick<TaskRow, 'status' | 'attempt' | 'worker_id'> | undefined;
  return row?.status === 'completed' && row.attempt === attempt && row.worker_id === workerId;
}

export function acknowledge(ctx: Ctx, workerId: string, acks: TaskAcks): AckState[] {
  return immediate(ctx, () => {
    const out: AckState[] = [];
    for (const { taskId, attempt } of acks.started ?? []) {
      let state: LeaseState;
      try {
        state = progressHeld(ctx, { workerId, taskId, attempt }, null);
      } catch (err) {
        if (!refused(err)) throw err;
        state = alreadyCompleted(ctx, taskId, attempt, workerId) ? 'ok' : 'lost';
      }
      out.push({ taskId, attempt, state });
    }
    for (const { taskId, attempt, result } of acks.completed ?? []) {
      let state: LeaseState = 'ok';
      try {
        completeHeld(ctx, { workerId, taskId, attempt }, result ?? null);
      } catch (err) {
        if (!refused(err)) throw err;
        if (!alreadyCompleted(ctx, taskId, attempt, workerId)) state = 'lost';
      }
      out.push({ taskId, attempt, state });
    }
    return out;
  });
}
