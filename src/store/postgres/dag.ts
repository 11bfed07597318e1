// Task graphs on PostgreSQL: inserting tasks with their dependencies, releasing dependents when
// a task completes, and extending a job's graph from a completed task's result (../graph.ts).
// Callers hold the job's lock (aggregate.ts), so a graph never changes under two writers at once.
import { normalizeRequirements } from '../../protocol/capabilities.js';
import { jsonText, parseJson, type JobRow, type TaskRow } from '../derive.js';
import { graphRows, validateGraph, type KnownTasks } from '../graph.js';
import { newId } from '../ids.js';
import type { NewTask } from '../store.js';
import { exec, q, type Client, type Ctx } from './connection.js';

async function namedTasks(c: Client, jobId: string): Promise<KnownTasks> {
  const rows = await q<Pick<TaskRow, 'id' | 'name' | 'status'>>(c, 'SELECT id, name, status FROM tasks WHERE job_id = $1 AND name IS NOT NULL', [jobId]);
  return new Map(rows.map((r) => [r.name as string, { id: r.id, done: r.status === 'completed' }]));
}

/**
 * Inserts tasks (validated with validateGraph) and their dependency rows in two statements; a
 * task waits for each dependency not yet completed. Answers the new task ids in order.
 */
export async function insertTasks(c: Client, ctx: Ctx, jobId: string, priority: number, tasks: readonly NewTask[], now: number): Promise<string[]> {
  const known: KnownTasks = tasks.some((t) => (t.after?.length ?? 0) > 0) ? await namedTasks(c, jobId) : new Map();
  // ids are increasing within this process, so (created_at, id) keeps job order.
  const rows = graphRows(tasks, known, () => newId('task'));
  const ids = rows.tasks.map((t) => t.id);
  const { deps } = rows;
  await exec(
    c,
    // requires travels as JSON text per task: unnest cannot take a ragged text[][].
    `INSERT INTO tasks (id, job_id, kind, input, params, priority, status, max_attempts, max_run_ms, run_after, created_at, requires, name, waiting_on, weight)
     SELECT t.id, $1, t.kind, t.input, t.params::json, $2, 'pending', t.max_attempts, t.max_run_ms, $3, $3,
            CASE WHEN t.requires IS NULL THEN NULL ELSE ARRAY(SELECT json_array_elements_text(t.requires::json)) END,
            t.name, t.waiting_on, t.weight
     FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::text[], $11::text[], $12::int[], $13::float8[])
       AS t(id, kind, input, params, max_attempts, max_run_ms, requires, name, waiting_on, weight)`,
    [
      jobId,
      priority,
      now,
      ids,
      tasks.map((t) => t.kind),
      tasks.map((t) => t.input),
      tasks.map((t) => jsonText(t.params)),
      tasks.map((t) => t.maxAttempts),
      tasks.map((t) => t.maxRunMs),
      tasks.map((t) => (t.requires?.length ? JSON.stringify(normalizeRequirements(t.requires)) : null)),
      tasks.map((t) => t.name ?? null),
      rows.tasks.map((t) => t.waitingOn),
      tasks.map((t) => t.weight ?? 1),
    ],
  );
  if (deps.length > 0) {
    await exec(c, 'INSERT INTO task_deps (job_id, depends_on, task_id) SELECT $1, d, t FROM unnest($2::text[], $3::text[]) AS u(d, t)', [
      jobId,
      deps.map((d) => d.dependsOn),
      deps.map((d) => d.taskId),
    ]);
  }
  for (const kind of rows.ready) ctx.graph.ready.add(kind);
  return ids;
}

/** A completed task releases its dependents: each waits for one dependency less. */
export async function releaseDependents(c: Client, ctx: Ctx, taskId: string): Promise<void> {
  const rows = await q<Pick<TaskRow, 'kind' | 'waiting_on'>>(
    c,
    `UPDATE tasks SET waiting_on = waiting_on - 1
     WHERE id IN (SELECT task_id FROM task_deps WHERE depends_on = $1) AND status = 'pending' AND waiting_on > 0
     RETURNING kind, waiting_on`,
    [taskId],
  );
  for (const r of rows) if (r.waiting_on === 0) ctx.graph.ready.add(r.kind);
}

/**
 * The tasks a completed task's expander adds to its job, validated; [] when its kind has none or
 * the job is already ending. Throws what the expander throws.
 */
export async function expansionOf(c: Client, ctx: Ctx, task: { id: string; job_id: string; kind: string }, result: unknown): Promise<NewTask[]> {
  const expander = ctx.graph.expanders[task.kind];
  if (!expander) return [];
  const [job] = await q<Pick<JobRow, 'id' | 'kind' | 'input' | 'params' | 'priority' | 'status'>>(
    c,
    'SELECT id, kind, input, params, priority, status FROM jobs WHERE id = $1',
    [task.job_id],
  );
  if (!job || (job.status !== 'pending' && job.status !== 'running')) return [];
  const [self] = await q<Pick<TaskRow, 'name' | 'params'>>(c, 'SELECT name, params FROM tasks WHERE id = $1', [task.id]);
  const added = expander({
    job: { id: job.id, kind: job.kind, input: job.input, params: parseJson<Record<string, unknown>>(job.params) ?? {}, priority: job.priority },
    task: { id: task.id, name: self?.name ?? null, kind: task.kind, params: parseJson<Record<string, unknown>>(self?.params ?? null) ?? {} },
    result,
  });
  validateGraph(added, new Set((await namedTasks(c, task.job_id)).keys()));
  return added;
}
