// The store's lifecycle rules, free of any SQL dialect, so the SQLite and PostgreSQL stores
// decide exactly alike: a job's aggregate state from its tasks, what a failure or an expired
// lease turns a task into, and the mapping from database rows to wire objects.
//
// Rows are described as the SQLite store reads them: snake_case columns, timestamps as ms since
// the epoch, JSON columns as text. A PostgreSQL store selects the same shape (`col::text` for
// jsonb, bigint ms parsed to number) and reuses the mappers unchanged.
import { validateGraph } from './graph.js';
import { ERROR_CATALOG, VidfleetError, type ErrorBody } from '../protocol/errors.js';
import type { ClaimedTask } from '../protocol/api.js';
import type { Artifact, Job, JobStatus, ProgressDetail, Task, TaskStatus, Worker, WorkerCapabilities } from '../protocol/model.js';
import { isId } from './ids.js';
import { isCapabilityToken } from '../protocol/capabilities.js';
import { TASK_LOG_MAX_LINE_CHARS, type IdempotencyOptions, type JobEvent, type ListJobsFilter, type NewJob, type NewLogLine } from './store.js';

/** Why a task was canceled, as its task.canceled event says; both dialects write the same words. */
export const CANCEL_REASONS = {
  byUser: 'canceled by a user',
  siblingFailed: 'a sibling task failed',
  workerConfirmed: 'the worker confirmed the cancel',
} as const;

/** Statuses in which a task belongs to one attempt of one worker: the only ones a fenced write accepts. */
export const HELD_STATUSES = ['assigned', 'running', 'canceling'] as const satisfies readonly TaskStatus[];

export type StoreEventType =
  | 'job.created'
  | 'job.completed'
  | 'job.failed'
  | 'job.canceled'
  | 'task.claimed'
  | 'task.running'
  | 'task.completed'
  | 'task.failed'
  | 'task.retrying'
  | 'task.lease_expired'
  | 'task.canceled'
  | 'artifact.added'
  // added for issue 3 (cancellation, run deadlines)
  | 'job.cancel_requested'
  | 'task.canceling'
  | 'task.timed_out'
  | 'job.expanded'
  // added for issue 8 (the fleet's event log)
  | 'task.progress'
  | 'worker.online'
  | 'worker.offline';


/** Job statuses a job never leaves; the only ones pruneFinished deletes. */
export const FINISHED_JOB_STATUSES = ['completed', 'failed', 'canceled'] as const satisfies readonly JobStatus[];

// ---- validation (the same refusals on every dialect) ----

function invalid(message: string): VidfleetError {
  return new VidfleetError('VALIDATION_FAILED', message);
}

const isPositiveInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;

export function validateNewJob(job: NewJob): void {
  if (job.tasks.length === 0) throw invalid(`A ${job.kind} job needs at least one task.`);
  for (const t of job.tasks) {
    if (!isPositiveInt(t.maxAttempts)) throw invalid(`Task maxAttempts must be an integer >= 1, got ${t.maxAttempts}.`);
    if (!isPositiveInt(t.maxRunMs)) throw invalid(`Task maxRunMs must be an integer >= 1 (ms), got ${t.maxRunMs}.`);
    const bad = (t.requires ?? []).find((r) => !isCapabilityToken(r));
    if (bad !== undefined) throw invalid(`Task requirement "${bad}" is not a capability token (family:name, e.g. encoder:libx265 or tag:gpu).`);
  }
  if (!Number.isSafeInteger(job.priority)) throw invalid(`Job priority must be an integer, got ${job.priority}.`);
  validateGraph(job.tasks);
}

/** Cuts an over-long log line, saying so, and drops a trailing line break. */
export function logLineText(line: string): string {
  const text = line.replace(/\r?\n$/, '');
  return text.length <= TASK_LOG_MAX_LINE_CHARS ? text : `${text.slice(0, TASK_LOG_MAX_LINE_CHARS)} … [${text.length - TASK_LOG_MAX_LINE_CHARS} more characters cut]`;
}

/** The afterId of listTaskLogs (0: from the start). */
export function validateAfterId(after: number): void {
  if (!Number.isSafeInteger(after) || after < 0) throw invalid(`afterId must be an integer >= 0, got ${after}.`);
}

/** A fenced write refused because the attempt is no longer held: it changed nothing. */
export function isRefusal(err: unknown): boolean {
  return err instanceof VidfleetError && (err.code === 'STALE_ATTEMPT' || err.code === 'TASK_NOT_FOUND');
}

/** Whether `row` is a task this very attempt completed (a re-sent completion is acknowledged again). */
export function completedBy(row: Pick<TaskRow, 'status' | 'attempt' | 'worker_id'> | undefined, attempt: number, workerId: string): boolean {
  return row?.status === 'completed' && row.attempt === attempt && row.worker_id === workerId;
}

export function validateLogLines(lines: readonly NewLogLine[]): void {
  for (const l of lines) {
    if (typeof l.line !== 'string' || !Number.isSafeInteger(l.ts)) throw invalid('Each log line needs a string `line` and an integer `ts` (ms since the epoch).');
  }
}

export function validateIdempotency(o: IdempotencyOptions): void {
  if (typeof o.owner !== 'string') throw invalid('The idempotency owner must be a string.');
  if (typeof o.key !== 'string' || o.key.length === 0 || o.key.length > 255) throw invalid('An Idempotency-Key must be 1 to 255 characters.');
  if (typeof o.requestHash !== 'string' || o.requestHash.length === 0) throw invalid('The idempotency request hash must be a non-empty string.');
  if (!isPositiveInt(o.ttlMs)) throw invalid(`The idempotency ttlMs must be an integer >= 1, got ${o.ttlMs}.`);
}

/** graceMs for cancelJob, olderThanMs for pruneFinished, silentMs for markSilentWorkersOffline. */
export function validateDuration(name: string, ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 0) throw invalid(`${name} must be an integer >= 0 (ms), got ${ms}.`);
}

export function validateLimit(name: string, n: number): void {
  if (!isPositiveInt(n)) throw invalid(`${name} must be an integer >= 1, got ${n}.`);
}

/** listJobs' limit and cursor (the cursor is the last job id of the previous page). */
export function validateListFilter(filter: Pick<ListJobsFilter, 'limit' | 'cursor'>): void {
  validateLimit('limit', filter.limit);
  if (filter.cursor !== undefined && !isId('job', filter.cursor)) {
    throw invalid('The cursor is not one this server issued; pass nextCursor from the previous page unchanged.');
  }
}

// ---- idempotency ----

export interface IdempotencyKeyRow {
  owner: string;
  key: string;
  request_hash: string;
  job_id: string;
  expires_at: number;
}

/**
 * What a submission with an idempotency key does, given the key's row (if any) read under the
 * transaction's lock: 'create' a job (and write/replace the key), 'replay' the key's job, or
 * 'conflict'. A key stays live until expires_at (exclusive).
 */
export function idempotencyDecision(row: Pick<IdempotencyKeyRow, 'request_hash' | 'expires_at'> | null | undefined, requestHash: string, now: number): 'create' | 'replay' | 'conflict' {
  if (!row || row.expires_at <= now) return 'create';
  return row.request_hash === requestHash ? 'replay' : 'conflict';
}

export function idempotencyConflict(o: Pick<IdempotencyOptions, 'key'>, jobId: string): VidfleetError {
  return new VidfleetError(
    'IDEMPOTENCY_CONFLICT',
    `Idempotency-Key "${o.key}" was already used for a different request (it created job ${jobId}); send the same request to get that job back, or use a new key for a new job.`,
    { details: { key: o.key, jobId } },
  );
}

// ---- job aggregate ----

/** What deriveJob needs of a task. `J` is however the dialect holds JSON (text in SQLite). */
export interface TaskFacts<J> {
  status: TaskStatus;
  progress: number;
  error: J | null;
  result: J | null;
  finishedAt: number | null;
  /** Share of the job's progress (graph jobs weigh tasks by work); default 1. */
  weight?: number;
}

export interface DerivedJob<J> {
  status: JobStatus;
  progress: number;
  error: J | null;
  result: J | null;
}

export function clampProgress(p: number): number {
  return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0;
}

/**
 * The first or last task (by finish time) matching `pick`. Ties go to job order: the earlier task
 * for 'first', the later one for 'last' (downstream in a DAG).
 */
function byFinish<J>(tasks: readonly TaskFacts<J>[], pick: (t: TaskFacts<J>) => boolean, which: 'first' | 'last'): TaskFacts<J> | undefined {
  let best: TaskFacts<J> | undefined;
  for (const t of tasks) {
    if (!pick(t)) continue;
    const a = t.finishedAt ?? 0;
    const b = best?.finishedAt ?? 0;
    if (!best || (which === 'first' ? a < b : a >= b)) best = t;
  }
  return best;
}

/**
 * The job's state from its tasks (given in job order). Precedence matters: one failed task fails
 * the job even while siblings still run, because its result can never be complete.
 */
export function deriveJob<J>(tasks: readonly TaskFacts<J>[]): DerivedJob<J> {
  if (tasks.length === 0) return { status: 'pending', progress: 0, error: null, result: null };
  const has = (s: TaskStatus) => tasks.some((t) => t.status === s);
  const all = (pred: (t: TaskFacts<J>) => boolean) => tasks.every(pred);
  let done = 0;
  let total = 0;
  for (const t of tasks) {
    const w = t.weight ?? 1;
    total += w;
    done += w * (t.status === 'completed' ? 1 : clampProgress(t.progress));
  }
  const progress = total > 0 ? done / total : 0;

  if (has('failed')) {
    // The first failure is the cause; later ones are usually its fallout.
    const first = byFinish(tasks, (t) => t.status === 'failed', 'first');
    return { status: 'failed', progress, error: first?.error ?? null, result: null };
  }
  if (all((t) => t.status === 'completed')) {
    const last = byFinish(tasks, (t) => t.status === 'completed', 'last');
    return { status: 'completed', progress: 1, error: null, result: last?.result ?? null };
  }
  if (has('canceling')) return { status: 'canceling', progress, error: null, result: null };
  if (all((t) => t.status === 'completed' || t.status === 'canceled')) return { status: 'canceled', progress, error: null, result: null };
  // A job whose first tasks are done and whose next one waits for a worker has started: it is
  // running, not pending (only DAG jobs have such a moment).
  if (has('assigned') || has('running') || has('completed')) return { status: 'running', progress, error: null, result: null };
  return { status: 'pending', progress, error: null, result: null };
}

export function isTerminalJob(status: JobStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'canceled';
}

/** finished_at keeps the moment the job first reached its terminal status. */
export function jobFinishedAt(previous: { status: JobStatus; finishedAt: number | null }, next: JobStatus, now: number): number | null {
  if (!isTerminalJob(next)) return null;
  return previous.status === next && previous.finishedAt !== null ? previous.finishedAt : now;
}

// ---- task transitions ----

export type FailOutcome = 'pending' | 'failed' | 'canceled';

/**
 * What a reported failure turns a held task into. A task being canceled is never retried: the
 * user asked for it to stop, and the failure is how the worker confirms it stopped. Nor is a
 * task whose job has already failed (a sibling failed for good while this one was held): its
 * job can never complete, so another attempt would only waste a worker.
 */
export function afterFailure(
  task: { status: TaskStatus; attempt: number; maxAttempts: number; jobStatus?: JobStatus },
  retryable: boolean,
  handedBack = false,
): FailOutcome {
  if (task.status === 'canceling') return 'canceled';
  if (task.jobStatus === 'failed') return 'failed';
  return handedBack || (retryable && task.attempt < task.maxAttempts) ? 'pending' : 'failed';
}

/**
 * A draining worker handing a task back did not fail it: that attempt does not count against
 * max_attempts (the task's budget grows by one), so a hand-back on the last attempt is retried,
 * not failed.
 */
export function isHandBack(error: ErrorBody): boolean {
  return error.code === 'WORKER_SHUTDOWN';
}

/** What an expired lease turns a held task into: the worker is presumed gone. */
export function afterLeaseExpiry(task: { status: TaskStatus; attempt: number; maxAttempts: number; jobStatus?: JobStatus }): FailOutcome {
  return afterFailure(task, ERROR_CATALOG.WORKER_LOST.retryable);
}

/** What passing its run deadline turns a held task into (a canceling one: canceled). */
export function afterRunDeadline(task: { status: TaskStatus; attempt: number; maxAttempts: number; jobStatus?: JobStatus }): FailOutcome {
  return afterFailure(task, ERROR_CATALOG.TASK_TIMEOUT.retryable);
}

export type ExpiryCause = 'WORKER_LOST' | 'TASK_TIMEOUT';

/**
 * Why the janitor takes a held task back at `now`, or null when it keeps it. When both the lease
 * and the run deadline have passed, the earlier of the two is the cause (a tie is a timeout).
 */
export function expiryCause(task: { leaseExpiresAt: number | null; runDeadlineAt: number | null }, now: number): ExpiryCause | null {
  const leaseGone = task.leaseExpiresAt !== null && task.leaseExpiresAt <= now;
  const overdue = task.runDeadlineAt !== null && task.runDeadlineAt <= now;
  if (overdue && (!leaseGone || (task.runDeadlineAt as number) <= (task.leaseExpiresAt as number))) return 'TASK_TIMEOUT';
  return leaseGone ? 'WORKER_LOST' : null;
}

/** The run deadline a claim at `now` sets: null for tasks stored before run limits existed. */
export function runDeadlineAt(now: number, maxRunMs: number | null): number | null {
  return maxRunMs === null ? null : now + maxRunMs;
}

/** A cancel cuts a running task's lease to the grace period, never lengthens it. */
export function cancelLease(current: number | null, now: number, graceMs: number): number {
  return current === null ? now + graceMs : Math.min(current, now + graceMs);
}

export function retryRunAfter(now: number, retryDelayMs: number): number {
  return now + (Number.isFinite(retryDelayMs) ? Math.max(0, Math.floor(retryDelayMs)) : 0);
}

export function workerLostError(task: { workerId: string | null; attempt: number; maxAttempts: number }): ErrorBody {
  const spec = ERROR_CATALOG.WORKER_LOST;
  return {
    code: 'WORKER_LOST',
    message: `Worker ${task.workerId ?? '(unknown)'} stopped heartbeating during attempt ${task.attempt} of ${task.maxAttempts}.`,
    hint: spec.hint,
    retryable: spec.retryable,
    details: { workerId: task.workerId, attempt: task.attempt, maxAttempts: task.maxAttempts },
  };
}

export function taskTimeoutError(task: { workerId: string | null; attempt: number; maxAttempts: number; maxRunMs: number | null }): ErrorBody {
  const spec = ERROR_CATALOG.TASK_TIMEOUT;
  return {
    code: 'TASK_TIMEOUT',
    message: `Attempt ${task.attempt} of ${task.maxAttempts} on worker ${task.workerId ?? '(unknown)'} ran longer than its limit of ${task.maxRunMs ?? '?'} ms and was taken back.`,
    hint: spec.hint,
    retryable: spec.retryable,
    details: { workerId: task.workerId, attempt: task.attempt, maxAttempts: task.maxAttempts, maxRunMs: task.maxRunMs },
  };
}

// ---- rows and wire objects ----

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

export function toIsoOrNull(ms: number | null): string | null {
  return ms === null ? null : toIso(ms);
}

/** JSON text of a value; undefined (and anything JSON drops) becomes null. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

export function parseJson<T = unknown>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export interface JobRow {
  id: string;
  kind: string;
  input: string;
  params: string;
  priority: number;
  status: JobStatus;
  progress: number;
  error: string | null;
  result: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  owner?: string | null;
}

export interface TaskRow {
  id: string;
  job_id: string;
  kind: string;
  input: string;
  params: string;
  priority: number;
  status: TaskStatus;
  attempt: number;
  max_attempts: number;
  worker_id: string | null;
  lease_expires_at: number | null;
  run_after: number;
  progress: number;
  error: string | null;
  result: string | null;
  resume_data: string | null;
  /** null only for tasks stored before run limits existed (no deadline). */
  max_run_ms: number | null;
  /** Capability tokens: JSON text in SQLite, text[] in PostgreSQL; null when none. */
  requires?: string | string[] | null;
  /** JSON text (SQLite) or parsed JSON (PostgreSQL's json comes back parsed). */
  progress_detail?: string | ProgressDetail | null;
  /** Graph jobs: the task's name in the job, its unmet dependencies, its progress weight. */
  name?: string | null;
  waiting_on?: number;
  weight?: number;
  /** Set at claim (now + max_run_ms) for held tasks; heartbeats never move it. */
  run_deadline_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface ArtifactRow {
  job_id: string;
  task_id: string;
  name: string;
  key: string;
  size: number;
  sha256: string;
  content_type: string;
  created_at: number;
}

export interface WorkerRow {
  id: string;
  name: string;
  hostname: string;
  capabilities: string;
  status: 'online' | 'offline';
  registered_at: number;
  last_heartbeat_at: number;
  owner?: string | null;
}

export interface EventRow {
  id: number;
  job_id: string;
  task_id: string | null;
  type: string;
  data: string;
  created_at: number;
}

export function taskFacts(row: Pick<TaskRow, 'status' | 'progress' | 'error' | 'result' | 'finished_at' | 'weight'>): TaskFacts<string> {
  return { status: row.status, progress: row.progress, error: row.error, result: row.result, finishedAt: row.finished_at, weight: row.weight ?? 1 };
}

export function taskToWire(row: TaskRow): Task {
  return {
    id: row.id,
    jobId: row.job_id,
    kind: row.kind,
    name: row.name ?? null,
    waitingOn: row.waiting_on ?? 0,
    status: row.status,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    workerId: row.worker_id,
    progress: row.progress,
    leaseExpiresAt: toIsoOrNull(row.lease_expires_at),
    runAfter: row.status === 'pending' ? toIso(row.run_after) : null,
    error: parseJson<ErrorBody>(row.error),
    result: parseJson(row.result),
    createdAt: toIso(row.created_at),
    startedAt: toIsoOrNull(row.started_at),
    finishedAt: toIsoOrNull(row.finished_at),
    requires: requiresFromRow(row.requires),
    progressDetail: row.status === 'running' || row.status === 'canceling' ? detailFromRow(row.progress_detail) : null,
  };
}

function detailFromRow(value: string | ProgressDetail | null | undefined): ProgressDetail | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? (parseJson<ProgressDetail>(value) ?? null) : value;
}

function requiresFromRow(value: string | string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  return Array.isArray(value) ? value : (parseJson<string[]>(value) ?? []);
}

export function jobToWire(row: JobRow, tasks?: TaskRow[]): Job {
  const job: Job = {
    id: row.id,
    kind: row.kind,
    input: row.input,
    params: parseJson<Record<string, unknown>>(row.params) ?? {},
    priority: row.priority,
    status: row.status,
    progress: row.progress,
    error: parseJson<ErrorBody>(row.error),
    result: parseJson(row.result),
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
    finishedAt: toIsoOrNull(row.finished_at),
  };
  if (tasks) job.tasks = tasks.map(taskToWire);
  if (row.owner) job.owner = row.owner;
  return job;
}

export function claimedToWire(row: TaskRow): ClaimedTask {
  return {
    taskId: row.id,
    jobId: row.job_id,
    attempt: row.attempt,
    kind: row.kind,
    input: row.input,
    params: parseJson<Record<string, unknown>>(row.params) ?? {},
    resumeData: parseJson(row.resume_data),
    leaseExpiresAt: toIso(row.lease_expires_at ?? 0),
  };
}

export function artifactToWire(row: ArtifactRow): Artifact {
  return {
    jobId: row.job_id,
    taskId: row.task_id,
    name: row.name,
    key: row.key,
    size: row.size,
    sha256: row.sha256,
    contentType: row.content_type,
    createdAt: toIso(row.created_at),
  };
}

export function workerToWire(row: WorkerRow): Worker {
  return {
    id: row.id,
    name: row.name,
    hostname: row.hostname,
    status: row.status,
    capabilities: parseJson<WorkerCapabilities>(row.capabilities) as WorkerCapabilities,
    registeredAt: toIso(row.registered_at),
    lastHeartbeatAt: toIso(row.last_heartbeat_at),
    ...(row.owner ? { owner: row.owner } : {}),
  };
}

export function eventToWire(row: EventRow): JobEvent {
  return {
    id: row.id,
    jobId: row.job_id,
    taskId: row.task_id,
    type: row.type,
    data: parseJson<Record<string, unknown>>(row.data) ?? {},
    createdAt: toIso(row.created_at),
  };
}
