// The Store: the coordinator's only view of its database. One small interface, implemented per
// dialect (sqlite/ now, postgres/ next) and proven by one conformance suite (test/store/).
//
// Rules every implementation keeps:
// - Every worker write is fenced by (taskId, attempt, workerId): it applies only while that
//   attempt is the task's current one and the task is still held (assigned/running/canceling).
//   Otherwise it throws VidfleetError STALE_ATTEMPT (or TASK_NOT_FOUND) and changes nothing.
// - A claim is atomic: two claimers never receive the same (task, attempt).
// - A job's status/progress/result/error are derived from its tasks inside the same
//   transaction as the task change, so readers never see them disagree.
// - Events are appended in the same transaction as the change they describe.
import type { ReadyListener } from './graph.js';
import type { AckState, Artifact, ProgressDetail, ClaimedTask, ErrorBody, FeedEvent, KeyRole, Job, JobStatus, LeaseState, TaskRef, Worker, WorkerCapabilities } from '../protocol/index.js';

export interface NewTask {
  kind: string;
  input: string;
  params: Record<string, unknown>;
  maxAttempts: number;
  /**
   * Longest one attempt may run, heartbeats or not (a hung ffmpeg that still heartbeats).
   * Set at claim as run_deadline_at = now + maxRunMs; heartbeats never extend it.
   */
  maxRunMs: number;
  /**
   * Capability tokens a worker must all have to be handed this task ("encoder:libwebp",
   * "filter:zscale", "mount:media", "tag:gpu"). Empty or absent: any worker of the kind.
   */
  requires?: string[];
  /** Unique within the job; needed to be waited for (and by a task that waits). */
  name?: string;
  /**
   * Names of tasks of the same job that must complete before this one is handed out: tasks
   * listed before it, or (in a graph extension) already in the job.
   */
  after?: string[];
  /** Share of the job's progress (default 1): a transcode weighs chunks by duration × cost. */
  weight?: number;
}

export interface NewJob {
  kind: string;
  input: string;
  params: Record<string, unknown>;
  priority: number;
  /** The key id of the client that submitted it; none when the coordinator runs without keys. */
  owner?: string | null;
  /** The tasks that make up the job; a probe or thumbnail job has exactly one. */
  tasks: NewTask[];
}

/**
 * Idempotent submission: the same (owner, key) within `ttlMs` returns the job it first created
 * (created: false) when `requestHash` matches, and throws IDEMPOTENCY_CONFLICT when it does
 * not. Concurrent submissions with one key create exactly one job.
 */
export interface IdempotencyOptions {
  owner: string;
  key: string;
  /** Hash of the canonical request body. */
  requestHash: string;
  ttlMs: number;
}

export interface ListJobsFilter {
  status?: JobStatus;
  kind?: string;
  /** Only this owner's jobs. */
  owner?: string;
  limit: number;
  /** Opaque: the nextCursor of the previous page. Pages go from newest to oldest. */
  cursor?: string;
}

export interface ClaimRequest {
  workerId: string;
  /** Only tasks of these kinds are handed out. */
  kinds: string[];
  /** The worker's capability tokens: a task is handed out only if it requires none beyond these. */
  capabilities?: string[];
  max: number;
  leaseMs: number;
}

export interface NewLogLine {
  /** When the worker saw the line (ms epoch). */
  ts: number;
  line: string;
}

export interface TaskLogLine {
  id: number;
  taskId: string;
  attempt: number;
  ts: string;
  line: string;
}

/** Lines kept per task; older ones are dropped as new ones arrive (ffmpeg can log for hours). */
export const TASK_LOG_MAX_LINES = 2_000;
/** Longest line kept; the rest is cut with a marker. */
export const TASK_LOG_MAX_LINE_CHARS = 4_000;

/** What a progress report may carry besides the fraction. */
export interface ProgressExtra {
  /** The attempt's checkpoint (replaces the previous one). */
  resumeData?: unknown;
  /** fps, speed, ETA, message: shown with the task; replaced by each report that has one. */
  detail?: ProgressDetail;
}

/** A worker's batched reports (see AckBody in the protocol). */
export interface TaskAcks {
  started?: TaskRef[];
  completed?: (TaskRef & { result: unknown })[];
}

/** Identifies one attempt held by one worker: what every fenced write names. */
export interface AttemptRef extends TaskRef {
  workerId: string;
}

export interface NewArtifact {
  name: string;
  key: string;
  size: number;
  sha256: string;
  contentType: string;
}

export interface NewApiKey {
  id: string;
  role: KeyRole;
  name: string;
  /** The secret sealed with the coordinators' master key (never the secret itself). */
  secretSealed: string;
}

export interface ApiKey {
  id: string;
  role: KeyRole;
  name: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface FeedQuery {
  after?: string;
  limit: number;
  jobId?: string;
}

export interface JobEvent {
  id: number;
  jobId: string;
  taskId: string | null;
  type: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface RequeueResult {
  /** Tasks put back to pending for another attempt. */
  requeued: number;
  /** Tasks failed for good because their attempts were used up. */
  failed: number;
  /** canceling tasks whose worker never confirmed within the grace period, now canceled. */
  canceled: number;
}

export interface PruneResult {
  jobs: number;
  /** Storage keys of the pruned jobs' artifacts, for the caller to delete from the BlobStore. */
  artifactKeys: string[];
}

/**
 * What taskCounts() counts: the unfinished states, with `pending` split into tasks a worker may
 * claim (now or after a retry backoff) and `waiting` ones whose dependencies have not completed.
 */
export type OpenTaskState = 'pending' | 'waiting' | 'assigned' | 'running' | 'canceling';

export interface TaskCount {
  kind: string;
  status: OpenTaskState;
  count: number;
}

export interface Store {
  /** Creates or upgrades the schema; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /**
   * Called after a write commits that made waiting tasks claimable (their last dependency
   * completed, or a graph extension added tasks with none left), with kind → count, so the
   * coordinator can wake long-polling workers of those kinds. Answers an unsubscribe function.
   */
  onTasksReady(listener: ReadyListener): () => void;

  // ---- jobs ----
  /** Inserts the job and all its tasks in one transaction; tasks start pending. */
  createJob(job: NewJob, options?: { idempotency?: IdempotencyOptions }): Promise<{ job: Job; created: boolean }>;
  /**
   * Cancels a job: pending/assigned tasks become canceled at once; running ones become
   * canceling (their worker learns it from its next heartbeat/progress answer) with the lease
   * cut to at most `graceMs`, after which the janitor forces them canceled. A finished job
   * is returned unchanged. Throws JOB_NOT_FOUND.
   */
  cancelJob(jobId: string, graceMs: number): Promise<Job>;
  getJob(id: string, options?: { withTasks?: boolean }): Promise<Job | null>;
  listJobs(filter: ListJobsFilter): Promise<{ jobs: Job[]; nextCursor: string | null }>;
  listEvents(jobId: string, afterId?: number): Promise<JobEvent[]>;
  /**
   * The fleet's event log in commit order, after `after` (a cursor from an earlier answer; none:
   * from the oldest kept), at most `limit`, optionally one job's only. An event is listed only
   * once no transaction that could still add an earlier one is running, so a reader following
   * the cursor never skips an event. Throws VALIDATION_FAILED for a cursor it did not make.
   */
  listFeed(query: FeedQuery): Promise<FeedEvent[]>;
  /**
   * Calls `listener` after a commit that appended events — on PostgreSQL, a commit on any
   * coordinator sharing the schema. A hint: readers still poll as a safety net.
   */
  onEventsAppended(listener: () => void): () => void;
  /** The cursor of the newest event a follower could read now; null when the log is empty. */
  latestFeedCursor(): Promise<string | null>;

  // ---- keys (signed requests) ----
  createApiKey(key: NewApiKey): Promise<ApiKey>;
  /** The key with its sealed secret, revoked or not; null when unknown. */
  getApiKey(id: string): Promise<(ApiKey & { secretSealed: string }) | null>;
  listApiKeys(): Promise<ApiKey[]>;
  /** False when there is no such key. Revoking twice keeps the first time. */
  revokeApiKey(id: string): Promise<boolean>;
  countActiveApiKeys(): Promise<number>;
  /** Records a request nonce until `expiresAt`; false when the key used it already (a replay). */
  rememberNonce(keyId: string, nonce: string, expiresAt: number): Promise<boolean>;
  /** Forgets expired nonces (at most `limit`); answers how many. */
  pruneNonces(limit: number): Promise<number>;
  /** Jobs `owner` submitted at or after `sinceMs` (for the per-client rate limit). */
  countJobsSince(owner: string, sinceMs: number): Promise<number>;

  // ---- singletons: work one coordinator does at a time ----
  /**
   * Takes or renews `name` for `holder` until now + ttlMs, when it is free, expired or already
   * the holder's. Answers whether the holder has it, and the cursor last saved under it.
   */
  holdSingleton(name: string, holder: string, ttlMs: number): Promise<{ held: boolean; cursor: string | null }>;
  /** Saves how far the holder got; false (nothing saved) when it no longer holds `name`. */
  saveSingletonCursor(name: string, holder: string, cursor: string): Promise<boolean>;
  /** Lets go of `name` (a stopping coordinator), so another takes it over at once. */
  releaseSingleton(name: string, holder: string): Promise<void>;
  /**
   * Appends lines to a task's log. Accepted from the attempt that holds the task or last held
   * it (a log tail may arrive after the completion); an older attempt gets STALE_ATTEMPT. Each
   * task keeps its newest TASK_LOG_MAX_LINES lines.
   */
  appendTaskLogs(ref: AttemptRef, lines: NewLogLine[]): Promise<void>;
  /** A job's log lines in order, after `afterId`, at most `limit`; optionally one task's only. */
  listTaskLogs(jobId: string, options: { afterId?: number; taskId?: string; limit: number }): Promise<TaskLogLine[]>;

  // ---- workers ----
  /** `owner`: the key id it registered with, when the coordinator has keys. */
  registerWorker(worker: { name: string; hostname: string; capabilities: WorkerCapabilities; owner?: string | null }): Promise<Worker>;
  /** A draining worker says goodbye: marked offline; it must have handed its tasks back first. */
  deregisterWorker(workerId: string): Promise<void>;
  getWorker(id: string): Promise<Worker | null>;
  listWorkers(): Promise<Worker[]>;

  // ---- task lifecycle (worker side) ----
  /**
   * Atomically hands up to `max` due pending tasks of the given kinds to the worker:
   * attempt + 1, status assigned, lease = now + leaseMs. Priority first, then age.
   */
  claimTasks(request: ClaimRequest): Promise<ClaimedTask[]>;
  /**
   * Marks the worker alive and renews the lease of each named attempt it still holds.
   * Never throws for a stale attempt: it answers `lost` for it instead.
   */
  heartbeat(workerId: string, tasks: TaskRef[], leaseMs: number): Promise<{ taskId: string; attempt: number; state: LeaseState }[]>;
  /**
   * Fenced. Records progress (0..1) and moves an assigned task to running. `resumeData`, when
   * given, replaces the task's checkpoint so a later attempt resumes from it even if this worker
   * dies without reporting a failure.
   */
  reportProgress(ref: AttemptRef, progress: number, extra?: ProgressExtra): Promise<LeaseState>;
  /**
   * Fenced, per item: marks attempts running (as a first progress report does) and completes
   * attempts (as completeTask), started before completed. Never throws for a stale attempt: it
   * answers `lost` for it and goes on. A completion that was already applied for this very
   * attempt answers `ok` again, so a worker may safely re-send a batch whose response it lost.
   */
  acknowledge(workerId: string, acks: TaskAcks): Promise<AckState[]>;
  /** Fenced. Throws STALE_ATTEMPT when the attempt is no longer current. */
  assertAttempt(ref: AttemptRef): Promise<{ jobId: string }>;
  /** Fenced. Replaces an artifact of the same name in the same job. */
  recordArtifact(ref: AttemptRef, artifact: NewArtifact): Promise<Artifact>;
  /** Fenced. The task is completed; the job completes when all its tasks have. */
  completeTask(ref: AttemptRef, result: unknown): Promise<void>;
  /**
   * Fenced. A retryable error with attempts left puts the task back to pending, due after
   * `retryDelayMs`, keeping `resumeData` for the next attempt; anything else fails the task and
   * its job. A canceling task (the user canceled; the worker confirms by failing it) becomes
   * canceled. Answers the task's new status.
   */
  failTask(ref: AttemptRef, error: ErrorBody, options: { resumeData?: unknown; retryDelayMs: number }): Promise<'pending' | 'failed' | 'canceled'>;

  // ---- housekeeping (janitor); every operation is safe to run on several coordinators at once ----
  /**
   * Tasks whose lease ran out, or whose attempt passed its run deadline, go back to pending
   * (attempts left; WORKER_LOST / TASK_TIMEOUT recorded as the attempt's error) or fail for good;
   * canceling tasks past their grace become canceled. Each update re-checks the lease it read,
   * so a task completed meanwhile is never touched.
   */
  requeueExpiredLeases(): Promise<RequeueResult>;
  /** Workers with no heartbeat for `silentMs` become offline; answers how many. */
  markSilentWorkersOffline(silentMs: number): Promise<number>;
  /**
   * Deletes jobs finished more than `olderThanMs` ago (tasks, artifacts rows, events with them)
   * and idempotency keys past their TTL, at most `limit` jobs per call so the table lock is short.
   */
  pruneFinished(olderThanMs: number, limit: number): Promise<PruneResult>;
  /**
   * Storage keys of blobs no row names any more (a completed job's intermediate `work/…`
   * artifacts, dropped in the transaction that completed it), at most `limit`, forgotten as they
   * are handed out: the caller deletes them from the BlobStore.
   */
  takeBlobTrash(limit: number): Promise<string[]>;
  /** Earliest time (ms since epoch) a pending task of these kinds becomes due, or null if none waits. */
  nextDueAt(kinds: string[]): Promise<number | null>;
  /**
   * Unfinished tasks by kind and state, in one read (the queue-depth gauge, read at every
   * scrape). Finished tasks are not counted: they stay in the table until retention prunes them,
   * and counting them would scan it whole. Only non-zero counts are listed, in no order.
   */
  taskCounts(): Promise<TaskCount[]>;

  // ---- artifacts ----
  listArtifacts(jobId: string): Promise<Artifact[]>;
  getArtifact(jobId: string, name: string): Promise<Artifact | null>;
}
