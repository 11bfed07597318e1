// Task logs: appended in batches by the worker that holds (or last held) the task, trimmed to
// the newest TASK_LOG_MAX_LINES per task, read by job in id order.
import { logLineText, toIso, validateAfterId, validateLimit, validateLogLines } from '../derive.js';
import { TASK_LOG_MAX_LINES, type AttemptRef, type NewLogLine, type TaskLogLine } from '../store.js';
import { immediate, stmt, type Ctx } from './connection.js';
import { refusal } from './fence.js';

export function appendTaskLogs(ctx: Ctx, ref: AttemptRef, lines: NewLogLine[]): void {
  validateLogLines(lines);
  if (lines.length === 0) return;
  immediate(ctx, () => {
    // The attempt that holds the task or last held it, whatever the status: the tail of a log
    // may follow the completion. A newer attempt (or a stranger) is refused.
    const task = stmt(ctx, 'SELECT job_id FROM tasks WHERE id = @taskId AND attempt = @attempt AND worker_id = @workerId').get(ref) as { job_id: string } | undefined;
    if (!task) throw refusal(ctx, ref);
    const insert = stmt(ctx, 'INSERT INTO task_logs (job_id, task_id, attempt, ts, line) VALUES (?, ?, ?, ?, ?)');
    for (const l of lines) insert.run(task.job_id, ref.taskId, ref.attempt, l.ts, logLineText(l.line));
    // The newest TASK_LOG_MAX_LINES stay: find the id just past them (one index probe) and
    // delete from there down.
    const cut = stmt(ctx, 'SELECT id FROM task_logs WHERE task_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?').get(ref.taskId, TASK_LOG_MAX_LINES) as { id: number } | undefined;
    if (cut) stmt(ctx, 'DELETE FROM task_logs WHERE task_id = ? AND id <= ?').run(ref.taskId, cut.id);
  });
}

interface LogRow {
  id: number;
  task_id: string;
  attempt: number;
  ts: number;
  line: string;
}

export function listTaskLogs(ctx: Ctx, jobId: string, options: { afterId?: number; taskId?: string; limit: number }): TaskLogLine[] {
  validateLimit('limit', options.limit);
  const after = options.afterId ?? 0;
  validateAfterId(after);
  const rows = (
    options.taskId === undefined
      ? stmt(ctx, 'SELECT id, task_id, attempt, ts, line FROM task_logs WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?').all(jobId, after, options.limit)
      : stmt(ctx, 'SELECT id, task_id, attempt, ts, line FROM task_logs WHERE task_id = ? AND job_id = ? AND id > ? ORDER BY id LIMIT ?').all(options.taskId, jobId, after, options.limit)
  ) as LogRow[];
  return rows.map((r) => ({ id: r.id, taskId: r.task_id, attempt: r.attempt, ts: toIso(r.ts), line: r.line }));
}
