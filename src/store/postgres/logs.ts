// Task logs: appended in batches by the worker that holds (or last held) the task, trimmed to
// the newest TASK_LOG_MAX_LINES per task, read by job in id order. Same rules as SQLite.
import { logLineText, toIso, validateAfterId, validateLimit, validateLogLines } from '../derive.js';
import { TASK_LOG_MAX_LINES, type AttemptRef, type NewLogLine, type TaskLogLine } from '../store.js';
import { exec, q, tx, type Ctx } from './connection.js';
import { refusal } from './fence.js';

// One statement inserts the batch from arrays; the attempt check is its WHERE, so a refused
// batch inserts nothing.
const APPEND_SQL = `INSERT INTO task_logs (job_id, task_id, attempt, ts, line)
  SELECT t.job_id, t.id, t.attempt, l.ts, l.line
  FROM tasks t, unnest($4::bigint[], $5::text[]) WITH ORDINALITY AS l(ts, line, n)
  WHERE t.id = $1 AND t.attempt = $2 AND t.worker_id = $3
  ORDER BY l.n`;

const TRIM_SQL = `DELETE FROM task_logs WHERE task_id = $1 AND id <= (
    SELECT id FROM task_logs WHERE task_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2
  )`;

export async function appendTaskLogs(ctx: Ctx, ref: AttemptRef, lines: NewLogLine[]): Promise<void> {
  validateLogLines(lines);
  if (lines.length === 0) return;
  await tx(ctx, async (c) => {
    const n = await exec(c, APPEND_SQL, [ref.taskId, ref.attempt, ref.workerId, lines.map((l) => l.ts), lines.map((l) => logLineText(l.line))]);
    if (n === 0) throw await refusal(c, ref);
    await exec(c, TRIM_SQL, [ref.taskId, TASK_LOG_MAX_LINES]);
  });
}

interface LogRow {
  id: string;
  task_id: string;
  attempt: number;
  ts: string;
  line: string;
}

export async function listTaskLogs(ctx: Ctx, jobId: string, options: { afterId?: number; taskId?: string; limit: number }): Promise<TaskLogLine[]> {
  validateLimit('limit', options.limit);
  const after = options.afterId ?? 0;
  validateAfterId(after);
  const rows =
    options.taskId === undefined
      ? await q<LogRow>(ctx.pool, 'SELECT id, task_id, attempt, ts, line FROM task_logs WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3', [jobId, after, options.limit])
      : await q<LogRow>(ctx.pool, 'SELECT id, task_id, attempt, ts, line FROM task_logs WHERE task_id = $1 AND job_id = $2 AND id > $3 ORDER BY id LIMIT $4', [
          options.taskId,
          jobId,
          after,
          options.limit,
        ]);
  return rows.map((r) => ({ id: Number(r.id), taskId: r.task_id, attempt: r.attempt, ts: toIso(Number(r.ts)), line: r.line }));
}
