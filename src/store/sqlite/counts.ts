// The queue-depth read behind the coordinator's /metrics: unfinished tasks by kind and state.
import type { TaskCount } from '../store.js';
import { HELD_SQL, stmt, type Ctx } from './connection.js';

// Each arm reads one partial index and never the finished rows, which stay in the table until
// retention prunes them: claimable pending tasks are tasks_due (a covering scan), waiting ones
// tasks_waiting, held ones tasks_run_deadline. On a 1,000,000-task file with 8,000 unfinished
// this took 1.6 ms against 219 ms for one GROUP BY over `status IN (…)`: a whole-table scan that
// would block the event loop at every scrape (better-sqlite3 is synchronous).
/** Exported so the SQLite tests can check its query plan. */
export const TASK_COUNTS_SQL = `
  SELECT kind, 'pending' AS status, count(*) AS count FROM tasks WHERE status = 'pending' AND waiting_on = 0 GROUP BY kind
  UNION ALL
  SELECT kind, 'waiting' AS status, count(*) AS count FROM tasks WHERE status = 'pending' AND waiting_on > 0 GROUP BY kind
  UNION ALL
  SELECT kind, status, count(*) AS count FROM tasks WHERE ${HELD_SQL} GROUP BY kind, status`;

export function taskCounts(ctx: Ctx): TaskCount[] {
  return stmt(ctx, TASK_COUNTS_SQL).all() as TaskCount[];
}
