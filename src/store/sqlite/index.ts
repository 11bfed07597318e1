// The SQLite Store: one file, better-sqlite3 (synchronous; each method runs to completion
// before the next starts, wrapped in a promise to meet the async Store interface). Each group
// of operations lives in its own file; this class only binds them to one connection.
import type { AckState, ClaimedTask, LeaseState, TaskRef } from '../../protocol/api.js';
import type { ErrorBody } from '../../protocol/errors.js';
import type { Artifact, FeedEvent, Job, Worker, WorkerCapabilities } from '../../protocol/model.js';
import type { AttemptRef, ClaimRequest, ProgressExtra, NewLogLine, TaskAcks, TaskLogLine, IdempotencyOptions, ApiKey, FeedQuery, JobEvent, NewApiKey, ListJobsFilter, NewArtifact, NewJob, PruneResult, RequeueResult, Store, TaskCount } from '../store.js';
import type { GraphExpanders, ReadyListener } from '../graph.js';
import { cancelJob } from './cancel.js';
import { taskCounts } from './counts.js';
import * as artifacts from './artifacts.js';
import { claimTasks } from './claim.js';
import { acknowledge } from './acks.js';
import { completeTask, failTask } from './complete.js';
import { createCtx, openDatabase, type Ctx } from './connection.js';
import { latestFeedCursor, listEvents, listFeed } from './events.js';
import * as singletons from './singletons.js';
import * as keys from './keys.js';
import { GroupCommit } from './group-commit.js';
import { appendTaskLogs, listTaskLogs } from './logs.js';
import { assertAttempt, reportProgress } from './fence.js';
import * as jobs from './jobs.js';
import * as leases from './leases.js';
import { migrate } from './migrations.js';
import { pruneFinished } from './retention.js';
import * as workers from './workers.js';

export interface SqliteStoreOptions {
  /** Database file; created if missing. */
  path: string;
  /** Clock in ms since the epoch; tests inject one to expire leases without sleeping. */
  now?: () => number;
  /** Graph extensions by task kind (a transcode's plan → its chunk encodes). */
  expanders?: GraphExpanders;
}

export class SqliteStore implements Store {
  readonly path: string;
  private readonly ctx: Ctx;
  /** The hot writes (submit, claim, batched reports) share commits when they arrive together. */
  private readonly group: GroupCommit;

  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.ctx = createCtx(openDatabase(options.path), options.now ?? Date.now, options.expanders);
    this.group = new GroupCommit(this.ctx);
  }

  private readonly readyListeners = new Set<ReadyListener>();

  onTasksReady(listener: ReadyListener): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  /** Runs a write and, after it committed, announces the tasks it made claimable. */
  private async announcing<T>(write: () => T | Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.ctx.graph.ready.flush(this.readyListeners);
    }
  }

  async migrate(): Promise<void> {
    migrate(this.ctx.db);
  }

  async close(): Promise<void> {
    if (this.ctx.db.open) this.ctx.db.close();
  }

  async createJob(job: NewJob, options?: { idempotency?: IdempotencyOptions }): Promise<{ job: Job; created: boolean }> {
    return this.announcing(() => this.group.run(() => jobs.createJob(this.ctx, job, options?.idempotency)));
  }

  async cancelJob(jobId: string, graceMs: number): Promise<Job> {
    return cancelJob(this.ctx, jobId, graceMs);
  }

  async getJob(id: string, options?: { withTasks?: boolean }): Promise<Job | null> {
    return jobs.getJob(this.ctx, id, options?.withTasks ?? false);
  }

  async listJobs(filter: ListJobsFilter): Promise<{ jobs: Job[]; nextCursor: string | null }> {
    return jobs.listJobs(this.ctx, filter);
  }

  async listEvents(jobId: string, afterId?: number): Promise<JobEvent[]> {
    return listEvents(this.ctx, jobId, afterId);
  }

  async listFeed(query: FeedQuery): Promise<FeedEvent[]> {
    return listFeed(this.ctx, query);
  }

  async latestFeedCursor(): Promise<string | null> {
    return latestFeedCursor(this.ctx);
  }

  async createApiKey(key: NewApiKey): Promise<ApiKey> {
    return keys.createApiKey(this.ctx, key);
  }

  async getApiKey(id: string): Promise<(ApiKey & { secretSealed: string }) | null> {
    return keys.getApiKey(this.ctx, id);
  }

  async listApiKeys(): Promise<ApiKey[]> {
    return keys.listApiKeys(this.ctx);
  }

  async revokeApiKey(id: string): Promise<boolean> {
    return keys.revokeApiKey(this.ctx, id);
  }

  async countActiveApiKeys(): Promise<number> {
    return keys.countActiveApiKeys(this.ctx);
  }

  async rememberNonce(keyId: string, nonce: string, expiresAt: number): Promise<boolean> {
    return keys.rememberNonce(this.ctx, keyId, nonce, expiresAt);
  }

  async pruneNonces(limit: number): Promise<number> {
    return keys.pruneNonces(this.ctx, limit);
  }

  async countJobsSince(owner: string, sinceMs: number): Promise<number> {
    return keys.countJobsSince(this.ctx, owner, sinceMs);
  }

  async holdSingleton(name: string, holder: string, ttlMs: number): Promise<{ held: boolean; cursor: string | null }> {
    return singletons.holdSingleton(this.ctx, name, holder, ttlMs);
  }

  async saveSingletonCursor(name: string, holder: string, cursor: string): Promise<boolean> {
    return singletons.saveSingletonCursor(this.ctx, name, holder, cursor);
  }

  async releaseSingleton(name: string, holder: string): Promise<void> {
    await singletons.releaseSingleton(this.ctx, name, holder);
  }

  onEventsAppended(listener: () => void): () => void {
    return this.ctx.feed.on(listener);
  }

  async registerWorker(worker: { name: string; hostname: string; capabilities: WorkerCapabilities; owner?: string | null }): Promise<Worker> {
    return workers.registerWorker(this.ctx, worker);
  }

  async deregisterWorker(workerId: string): Promise<void> {
    workers.deregisterWorker(this.ctx, workerId);
  }

  async getWorker(id: string): Promise<Worker | null> {
    return workers.getWorker(this.ctx, id);
  }

  async listWorkers(): Promise<Worker[]> {
    return workers.listWorkers(this.ctx);
  }

  async claimTasks(request: ClaimRequest): Promise<ClaimedTask[]> {
    return this.group.run(() => claimTasks(this.ctx, request));
  }

  async heartbeat(workerId: string, tasks: TaskRef[], leaseMs: number): Promise<{ taskId: string; attempt: number; state: LeaseState }[]> {
    return leases.heartbeat(this.ctx, workerId, tasks, leaseMs);
  }

  async reportProgress(ref: AttemptRef, progress: number, extra?: ProgressExtra): Promise<LeaseState> {
    return reportProgress(this.ctx, ref, progress, extra);
  }

  async appendTaskLogs(ref: AttemptRef, lines: NewLogLine[]): Promise<void> {
    appendTaskLogs(this.ctx, ref, lines);
  }

  async listTaskLogs(jobId: string, options: { afterId?: number; taskId?: string; limit: number }): Promise<TaskLogLine[]> {
    return listTaskLogs(this.ctx, jobId, options);
  }

  async acknowledge(workerId: string, acks: TaskAcks): Promise<AckState[]> {
    return this.announcing(() => this.group.run(() => acknowledge(this.ctx, workerId, acks)));
  }

  async assertAttempt(ref: AttemptRef): Promise<{ jobId: string }> {
    return assertAttempt(this.ctx, ref);
  }

  async recordArtifact(ref: AttemptRef, artifact: NewArtifact): Promise<Artifact> {
    return artifacts.recordArtifact(this.ctx, ref, artifact);
  }

  async completeTask(ref: AttemptRef, result: unknown): Promise<void> {
    await this.announcing(() => completeTask(this.ctx, ref, result));
  }

  async failTask(ref: AttemptRef, error: ErrorBody, options: { resumeData?: unknown; retryDelayMs: number }): Promise<'pending' | 'failed' | 'canceled'> {
    return failTask(this.ctx, ref, error, options);
  }

  async requeueExpiredLeases(): Promise<RequeueResult> {
    return leases.requeueExpiredLeases(this.ctx);
  }

  async markSilentWorkersOffline(silentMs: number): Promise<number> {
    return workers.markSilentWorkersOffline(this.ctx, silentMs);
  }

  async pruneFinished(olderThanMs: number, limit: number): Promise<PruneResult> {
    return pruneFinished(this.ctx, olderThanMs, limit);
  }

  async takeBlobTrash(limit: number): Promise<string[]> {
    return jobs.takeBlobTrash(this.ctx, limit);
  }

  async nextDueAt(kinds: string[]): Promise<number | null> {
    return leases.nextDueAt(this.ctx, kinds);
  }

  async taskCounts(): Promise<TaskCount[]> {
    return taskCounts(this.ctx);
  }

  async listArtifacts(jobId: string): Promise<Artifact[]> {
    return artifacts.listArtifacts(this.ctx, jobId);
  }

  async getArtifact(jobId: string, name: string): Promise<Artifact | null> {
    return artifacts.getArtifact(this.ctx, jobId, name);
  }
}

/** Opens (creating if needed) and migrates the database at `path`. */
export async function openSqliteStore(path: string, options: { now?: () => number } = {}): Promise<SqliteStore> {
  const store = new SqliteStore({ path, ...options });
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
