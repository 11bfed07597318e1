// Batched acknowledgements in one transaction: one commit for a worker's batch of "started" and
// "completed" reports. Completions lock their jobs; two batches locking the same jobs in opposite
// orders deadlock, PostgreSQL aborts one, and tx() runs it again (40P01 is a retried code).
import type { AckState, LeaseState } from '../../protocol/api.js';
import { completedBy, isRefusal, type TaskRow } from '../derive.js';
import type { TaskAcks } from '../store.js';
import { completeHeld } from './complete.js';
import { q, tx, type Client, type Ctx } from './connection.js';
import { progressHeld } from './fence.js';

/** A completion already applied for this very attempt (a re-sent batch) is acknowledged again. */
async function alreadyCompleted(c: Client, taskId: string, attempt: number, workerId: string): Promise<boolean> {
  const [row] = await q<Pick<TaskRow, 'status' | 'attempt' | 'worker_id'>>(c, 'SELECT status, attempt, worker_id FROM tasks WHERE id = $1', [taskId]);
  return completedBy(row, attempt, workerId);
}

export async function acknowledge(ctx: Ctx, workerId: string, acks: TaskAcks): Promise<AckState[]> {
  return tx(ctx, async (c) => {
    const now = ctx.now();
    const out: AckState[] = [];
    for (const { taskId, attempt } of acks.started ?? []) {
      let state: LeaseState;
      try {
        state = await progressHeld(c, now, { workerId, taskId, attempt }, null);
      } catch (err) {
        if (!isRefusal(err)) throw err;
        state = (await alreadyCompleted(c, taskId, attempt, workerId)) ? 'ok' : 'lost';
      }
      out.push({ taskId, attempt, state });
    }
    for (const { taskId, attempt, result } of acks.completed ?? []) {
      let state: LeaseState = 'ok';
      try {
        await completeHeld(c, ctx, now, { workerId, taskId, attempt }, result ?? null);
      } catch (err) {
        if (!isRefusal(err)) throw err;
        if (!(await alreadyCompleted(c, taskId, attempt, workerId))) state = 'lost';
      }
      out.push({ taskId, attempt, state });
    }
    return out;
  });
}
