// The queue-depth read behind the coordinator's /metrics: unfinished tasks by kind and state.
import type { TaskCount } from '../store.js';
import { HELD_SQL, q, type Ctx } from './connection.js';

// Each arm matches one partial index and never reads the finished rows, which stay in the table
// until retention prunes them: pending tasks are tasks_due (it carries kind and waiting_on, so an
// index-only scan once the table is vacuumed), held ones tasks_lease. One `status IN (…)` over
// both would be a sequential scan of the whole table.
/** Exported so the PostgreSQL tests can check its plan. */
export const TASK_COUNTS_SQL = `
  SELECT kind, CASE WHEN waiting_on > 0 THEN 'waiting' ELSE 'pending' END AS status, count(*) AS count
    FROM tasks WHERE status = 'pending' GROUP BY 1, 2
  UNION ALL
  SELECT kind, status, count(*) AS count FROM tasks WHERE ${HELD_SQL} GROUP BY 1, 2`;

export async function taskCounts(ctx: Ctx): Promise<TaskCount[]> {
  return q<TaskCount>(ctx.pool, TASK_COUNTS_SQL);
}
