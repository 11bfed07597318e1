// Batched acknowledgements in one transaction: one commit for a worker's batch of "started" and
// "completed" reports. Completions lock their jobs; two batches locking the same jobs in opposite
// orders deadlock, PostgreSQL aborts one, and tx() runs it again (40P01 is a retried code).
import type { AckState, LeaseState } from '../../protocol/api.js';
import { VidfleetError } from '../../protocol/errors.js';
import type { TaskRow } from '../derive.js';
import type { TaskAcks } from '../store.js';
import { completeHeld } from './complete.js';
import { q, tx, type Client, type Ctx } from './connection.js';
import { progressHeld } from './fence.js';

function refused(err: unknown): boolean {
  return err instanceof VidfleetError && (err.code === 'STALE_ATTEMPT' || err.code === 'TASK_NOT_FOUND');
}

/** A completion already applied for this very attempt (a re-sent batch) is acknowledged again. */
async function alreadyCompleted(c: Client, taskId: string, attempt: number, workerId: string): Promise<boolean> {
  const [row] = await q<Pick<TaskRow, 'status' | 'attempt' | 'worker_id'>>(c, 'SELECT status, attempt, worker_id FROM tasks WHERE id = $1', [taskId]);
  return row?.status === 'completed' && row.attempt === attempt && row.worker_id === workerId;
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
        if (!refused(err)) throw err;
        state = (await alreadyCompleted(c, taskId, attempt, workerId)) ? 'ok' : 'lost';
      }
      out.push({ taskId, attempt, state });
    }
    for (const { taskId, attempt, result } of acks.completed ?? []) {
      let state: LeaseState = 'ok';
      try {
        await completeHeld(c, now, { workerId, taskId, attempt }, result ?? null);
      } catch (err) {
        if (!refused(err)) throw err;
        if (!(await alreadyCompleted(c, taskId, attempt, workerId))) state = 'lost';
      }
      out.push({ taskId, attempt, state });
    }
    return out;
  });
}
