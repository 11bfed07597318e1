// Task graphs: a job's tasks may wait for others (a transcode's merge waits for its chunks). The
// rules every dialect shares: how a graph is validated, and how the job's progress weighs tasks.
// A task names its dependencies by name; it becomes claimable when the last one completes (a
// pending-dependency counter, decremented in the completion's own transaction, so no resolver
// polls). Dependencies may only point at tasks listed before it or already in the job, so a
// graph can never hold a cycle.
import { VidfleetError, type ErrorBody } from '../protocol/errors.js';
import type { NewTask } from './store.js';

/** Task names: path-like, so a job's graph reads well in listings ("video/720p/003"). */
const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/;

function invalid(message: string): VidfleetError {
  return new VidfleetError('VALIDATION_FAILED', message);
}

/**
 * Checks names are unique and well-formed, dependencies name earlier or existing tasks, and
 * weights are positive. `existing` holds the names already in the job (for a graph extension).
 */
export function validateGraph(tasks: readonly NewTask[], existing: ReadonlySet<string> = new Set()): void {
  const seen = new Set(existing);
  for (const t of tasks) {
    if (t.weight !== undefined && !(Number.isFinite(t.weight) && t.weight > 0)) throw invalid(`Task weight must be a positive number, got ${t.weight}.`);
    if (t.name !== undefined) {
      if (!TASK_NAME.test(t.name)) throw invalid(`Task name "${t.name}" must be 1–200 characters of letters, digits and . _ : / - (starting with a letter or digit).`);
      if (seen.has(t.name)) throw invalid(`Two tasks of one job are named "${t.name}"; task names are unique within a job.`);
    }
    for (const dep of t.after ?? []) {
      if (!seen.has(dep)) throw invalid(`Task "${t.name ?? t.kind}" waits for "${dep}", which is not a task listed before it in the job.`);
    }
    if ((t.after?.length ?? 0) > 0 && t.name === undefined) {
      // Not strictly needed, but a nameless waiting task cannot be told apart in events or errors.
      throw invalid(`A ${t.kind} task that waits for others needs a name.`);
    }
    if (t.name !== undefined) seen.add(t.name);
  }
}


/**
 * Graph expansion: when a task of a registered kind completes, its expander returns the tasks to
 * add to the job (e.g. a transcode's plan task → chunk encodes, merges, packaging), inserted in
 * the completion's transaction. It runs on the coordinator, so what a worker reports is data the
 * expander validates, never a task list taken on trust. Throwing a VidfleetError fails the task.
 */
export interface GraphExpansion {
  job: { id: string; kind: string; input: string; params: Record<string, unknown>; priority: number };
  task: { id: string; name: string | null; kind: string; params: Record<string, unknown> };
  result: unknown;
}

export type GraphExpander = (expansion: GraphExpansion) => NewTask[];

export type GraphExpanders = Readonly<Record<string, GraphExpander>>;

/** Tasks of these kinds became claimable (their last dependency completed); kind → how many. */
export type ReadyListener = (ready: ReadonlyMap<string, number>) => void;

/** Collects the kinds a write made claimable, for the facade to announce after its commit. */
export class ReadyKinds {
  private kinds = new Map<string, number>();

  add(kind: string, count = 1): void {
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + count);
  }

  /** Hands the collected kinds to the listeners and forgets them. */
  flush(listeners: ReadonlySet<ReadyListener>): void {
    if (this.kinds.size === 0) return;
    const ready = this.kinds;
    this.kinds = new Map();
    for (const listener of listeners) listener(ready);
  }
}

/** What a failed expansion records on the task: its own error, or a permanent INTERNAL. */
export function expansionError(err: unknown, task: { id: string; kind: string }): VidfleetError {
  if (err instanceof VidfleetError) return err;
  return new VidfleetError('INTERNAL', `Planning the rest of the job from task ${task.id} (${task.kind}) failed: ${(err as Error).message}`, { retryable: false });
}

/**
 * Artifacts named under work/ are a graph's intermediate files (encoded chunks, the audio
 * track): dropped when their job completes. As a name range, so the (job_id, name) index finds them.
 */
export const WORK_ARTIFACTS = { from: 'work/', to: 'work0' } as const;

/** A graph task's error names the task, so the job's error says which chunk gave up. */
export function namingTask(error: ErrorBody, name: string | null): ErrorBody {
  return name ? { ...error, details: { ...error.details, task: name } } : error;
}

/** The job's named tasks, by name: their id and whether they have completed. */
export type KnownTasks = Map<string, { id: string; done: boolean }>;

/** What inserting a graph's tasks writes, worked out the same way for every dialect. */
export interface GraphRows {
  /** Per task, in order: its new id and how many dependencies it waits for. */
  tasks: { id: string; waitingOn: number }[];
  deps: { dependsOn: string; taskId: string }[];
  /** Kinds of the tasks that wait for nothing (claimable at commit). */
  ready: string[];
}

/**
 * Ids, waiting counts and dependency rows for `tasks` (validated with validateGraph): a task
 * waits for each named dependency not yet completed, a repeated name counting once. `known`
 * holds the job's existing named tasks and is extended with the new ones.
 */
export function graphRows(tasks: readonly NewTask[], known: KnownTasks, newTaskId: () => string): GraphRows {
  const rows: GraphRows = { tasks: [], deps: [], ready: [] };
  for (const t of tasks) {
    const id = newTaskId();
    const open = [...new Set(t.after ?? [])].map((name) => known.get(name)).filter((d) => d !== undefined && !d.done);
    for (const d of open) rows.deps.push({ dependsOn: d!.id, taskId: id });
    if (t.name !== undefined) known.set(t.name, { id, done: false });
    if (open.length === 0) rows.ready.push(t.kind);
    rows.tasks.push({ id, waitingOn: open.length });
  }
  return rows;
}
