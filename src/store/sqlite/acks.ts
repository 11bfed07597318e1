// Batched acknowledgements: a worker's "started" and "completed" reports for many attempts,
// applied in one IMMEDIATE transaction (one WAL commit for the batch instead of one per report).
import type { AckState, LeaseState } from '../../protocol/api.js';
import { completedBy, isRefusal, type TaskRow } from '../derive.js';
import type { TaskAcks } from '../store.js';
import { immediate, stmt, type Ctx } from './connection.js';
import { completeHeld } from './complete.js';
import { progressHeld } from './fence.js';

/**
 * A completion the coordinator already applied (the worker re-sent it because the response was
 * lost) is acknowledged again rather than reported lost: the result the worker holds is stored.
 */
function alreadyCompleted(ctx: Ctx, taskId: string, attempt: number, workerId: string): boolean {
  const row = stmt(ctx, 'SELECT status, attempt, worker_id FROM tasks WHERE id = ?').get(taskId) as Pick<TaskRow, 'status' | 'attempt' | 'worker_id'> | undefined;
  return completedBy(row, attempt, workerId);
}

export function acknowledge(ctx: Ctx, workerId: string, acks: TaskAcks): AckState[] {
  return immediate(ctx, () => {
    const out: AckState[] = [];
    for (const { taskId, attempt } of acks.started ?? []) {
      let state: LeaseState;
      try {
        state = progressHeld(ctx, { workerId, taskId, attempt }, null);
      } catch (err) {
        if (!isRefusal(err)) throw err; // a refused report wrote nothing, so the batch goes on
        state = alreadyCompleted(ctx, taskId, attempt, workerId) ? 'ok' : 'lost';
      }
      out.push({ taskId, attempt, state });
    }
    for (const { taskId, attempt, result } of acks.completed ?? []) {
      let state: LeaseState = 'ok';
      try {
        completeHeld(ctx, { workerId, taskId, attempt }, result ?? null);
      } catch (err) {
        if (!isRefusal(err)) throw err; // a refused report wrote nothing, so the batch goes on
        if (!alreadyCompleted(ctx, taskId, attempt, workerId)) state = 'lost';
      }
      out.push({ taskId, attempt, state });
    }
    return out;
  });
}
