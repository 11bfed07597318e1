// Task graphs on SQLite: inserting tasks with their dependencies, releasing dependents when a
// task completes, and extending a job's graph from a completed task's result (see ../graph.ts).
import { normalizeRequirements } from '../../protocol/capabilities.js';
import { jsonText, parseJson, type JobRow, type TaskRow } from '../derive.js';
import { graphRows, validateGraph, type KnownTasks } from '../graph.js';
import { newId } from '../ids.js';
import type { NewTask } from '../store.js';
import { stmt, type Ctx } from './connection.js';

const INSERT_TASK_SQL = `INSERT INTO tasks (id, job_id, kind, input, params, priority, status, max_attempts, max_run_ms, run_after, created_at, requires, name, waiting_on, weight)
  VALUES (@id, @jobId, @kind, @input, @params, @priority, 'pending', @maxAttempts, @maxRunMs, @now, @now, @requires, @name, @waitingOn, @weight)`;

/** The job's named tasks (for a graph extension that waits for some of them). */
function namedTasks(ctx: Ctx, jobId: string): KnownTasks {
  const rows = stmt(ctx, 'SELECT id, name, status FROM tasks WHERE job_id = ? AND name IS NOT NULL').all(jobId) as Pick<TaskRow, 'id' | 'name' | 'status'>[];
  return new Map(rows.map((r) => [r.name as string, { id: r.id, done: r.status === 'completed' }]));
}

/**
 * Inserts tasks (validated by the caller with validateGraph) and their dependency rows; a task
 * waits for each dependency not yet completed. Tasks that wait for nothing are announced as ready.
 * Answers the new task ids in order.
 */
export function insertTasks(ctx: Ctx, jobId: string, priority: number, tasks: readonly NewTask[], now: number): string[] {
  const known: KnownTasks = tasks.some((t) => (t.after?.length ?? 0) > 0) ? namedTasks(ctx, jobId) : new Map();
  const rows = graphRows(tasks, known, () => newId('task'));
  tasks.forEach((t, i) => {
    const { id, waitingOn } = rows.tasks[i]!;
    stmt(ctx, INSERT_TASK_SQL).run({
      id,
      jobId,
      kind: t.kind,
      input: t.input,
      params: jsonText(t.params),
      priority,
      maxAttempts: t.maxAttempts,
      maxRunMs: t.maxRunMs,
      now,
      requires: t.requires?.length ? JSON.stringify(normalizeRequirements(t.requires)) : null,
      name: t.name ?? null,
      waitingOn,
      weight: t.weight ?? 1,
    });
  });
  const insertDep = stmt(ctx, 'INSERT INTO task_deps (job_id, depends_on, task_id) VALUES (?, ?, ?)');
  for (const d of rows.deps) insertDep.run(jobId, d.dependsOn, d.taskId);
  for (const kind of rows.ready) ctx.graph.ready.add(kind);
  return rows.tasks.map((t) => t.id);
}

/** A completed task releases its dependents: each waits for one dependency less. */
export function releaseDependents(ctx: Ctx, taskId: string): void {
  const rows = stmt(
    ctx,
    `UPDATE tasks SET waiting_on = waiting_on - 1
     WHERE id IN (SELECT task_id FROM task_deps WHERE depends_on = ?) AND status = 'pending' AND waiting_on > 0
     RETURNING kind, waiting_on`,
  ).all(taskId) as Pick<TaskRow, 'kind' | 'waiting_on'>[];
  for (const r of rows) if (r.waiting_on === 0) ctx.graph.ready.add(r.kind);
}

/**
 * The tasks a completed task's expander adds to its job, validated; [] when its kind has none or
 * the job is already ending (a failed sibling, a cancel). Throws what the expander throws.
 */
export function expansionOf(ctx: Ctx, task: Pick<TaskRow, 'id' | 'job_id' | 'kind'>, result: unknown): NewTask[] {
  const expander = ctx.graph.expanders[task.kind];
  if (!expander) return [];
  const job = stmt(ctx, 'SELECT id, kind, input, params, priority, status FROM jobs WHERE id = ?').get(task.job_id) as JobRow;
  if (job.status !== 'pending' && job.status !== 'running') return [];
  const self = stmt(ctx, 'SELECT name, params FROM tasks WHERE id = ?').get(task.id) as Pick<TaskRow, 'name' | 'params'>;
  const added = expander({
    job: { id: job.id, kind: job.kind, input: job.input, params: parseJson<Record<string, unknown>>(job.params) ?? {}, priority: job.priority },
    task: { id: task.id, name: self.name ?? null, kind: task.kind, params: parseJson<Record<string, unknown>>(self.params) ?? {} },
    result,
  });
  validateGraph(added, new Set(namedTasks(ctx, task.job_id).keys()));
  return added;
}
