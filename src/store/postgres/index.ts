// The PostgreSQL Store: a connection pool onto one schema of one database, which several
// coordinators may share. Each group of operations lives in its own file; this class only binds
// them to one pool. Same semantics, events and error codes as the SQLite store (one conformance
// suite proves both).
import { ReadyKinds, type GraphExpanders, type ReadyListener } from '../graph.js';
import type { AckState, ClaimedTask, LeaseState, TaskRef } from '../../protocol/api.js';
import type { ErrorBody } from '../../protocol/errors.js';
import type { Artifact, FeedEvent, Job, Worker, WorkerCapabilities } from '../../protocol/model.js';
import type { AttemptRef, ClaimRequest, ProgressExtra, NewLogLine, TaskAcks, TaskLogLine, IdempotencyOptions, ApiKey, FeedQuery, JobEvent, NewApiKey, ListJobsFilter, NewArtifact, NewJob, PruneResult, RequeueResult, Store, TaskCount } from '../store.js';
import * as artifacts from './artifacts.js';
import { cancelJob } from './cancel.js';
import { taskCounts } from './counts.js';
import { claimTasks } from './claim.js';
import { acknowledge } from './acks.js';
import { appendTaskLogs, listTaskLogs } from './logs.js';
import { completeTask, failTask } from './complete.js';
import { createPool, type Ctx } from './connection.js';
import { latestFeedCursor, listEvents, listFeed } from './events.js';
import * as singletons from './singletons.js';
import * as keys from './keys.js';
import { FeedSignal } from '../feed.js';
import { PgListener } from './listen.js';
import { ReadyBroadcast, TASKS_CHANNEL } from './ready-broadcast.js';
import { assertAttempt, reportProgress } from './fence.js';
import * as jobs from './jobs.js';
import * as leases from './leases.js';
import { migrate } from './migrations.js';
import { pruneFinished, takeBlobTrash } from './retention.js';
import * as workers from './workers.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  connectionString: string;
  /** Every table lives in this schema, created by migrate(). Default "vidfleet". */
  schema?: string;
  /** Clock in ms since the epoch, used for every timestamp instead of the server's clock. */
  now?: () => number;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** Graph extensions by task kind (a transcode's plan → its chunk encodes). */
  expanders?: GraphExpanders;
}

export class PostgresStore implements Store {
  readonly schema: string;
  private readonly ctx: Ctx;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    this.schema = options.schema ?? 'vidfleet';
    const pool = createPool(options.connectionString, this.schema, options.poolSize ?? 10);
    // An idle client that loses its connection (server restart) must not crash the process; the
    // pool drops it and the next query opens a new one.
    pool.on('error', () => undefined);
    this.ctx = { pool, schema: this.schema, now: options.now ?? Date.now, graph: { expanders: options.expanders ?? {}, ready: new ReadyKinds() } };
    this.ready = new ReadyBroadcast(this.ctx, this.readyListeners);
    this.listener = new PgListener(options.connectionString, {
      vidfleet_events: (payload) => {
        if (payload === null || payload === this.schema) this.feed.fire();
      },
      [TASKS_CHANNEL]: this.ready.receive,
    });
  }

  private readonly feed = new FeedSignal();
  private readonly ready: ReadyBroadcast;
  private readonly listener: PgListener;

  private readonly readyListeners = new Set<ReadyListener>();

  onTasksReady(listener: ReadyListener): () => void {
    this.readyListeners.add(listener);
    this.listener.start();
    return () => this.readyListeners.delete(listener);
  }

  /**
   * Runs a write with its own collector of newly claimable kinds and announces them after the
   * commit. Per call, because transactions interleave here: a shared collector could hand one
   * write's kinds out before that write committed, and the woken claim would find nothing.
   */
  private async announcing<T>(write: (ctx: Ctx) => Promise<T>): Promise<T> {
    const ctx: Ctx = { ...this.ctx, graph: { expanders: this.ctx.graph.expanders, ready: new ReadyKinds() } };
    try {
      return await write(ctx);
    } finally {
      ctx.graph.ready.flush(new Set([...this.readyListeners, this.ready.send]));
    }
  }

  async migrate(): Promise<void> {
    await migrate(this.ctx);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    await this.ctx.pool.end();
  }

  async createJob(job: NewJob, options?: { idempotency?: IdempotencyOptions }): Promise<{ job: Job; created: boolean }> {
    return this.announcing((ctx) => jobs.createJob(ctx, job, options?.idempotency));
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
    const off = this.feed.on(listener);
    this.listener.start();
    return off;
  }

  async registerWorker(worker: { name: string; hostname: string; capabilities: WorkerCapabilities; owner?: string | null }): Promise<Worker> {
    return workers.registerWorker(this.ctx, worker);
  }

  async deregisterWorker(workerId: string): Promise<void> {
    await workers.deregisterWorker(this.ctx, workerId);
  }

  async getWorker(id: string): Promise<Worker | null> {
    return workers.getWorker(this.ctx, id);
  }

  async listWorkers(): Promise<Worker[]> {
    return workers.listWorkers(this.ctx);
  }

  async claimTasks(request: ClaimRequest): Promise<ClaimedTask[]> {
    return claimTasks(this.ctx, request);
  }

  async heartbeat(workerId: string, tasks: TaskRef[], leaseMs: number): Promise<{ taskId: string; attempt: number; state: LeaseState }[]> {
    return leases.heartbeat(this.ctx, workerId, tasks, leaseMs);
  }

  async reportProgress(ref: AttemptRef, progress: number, extra?: ProgressExtra): Promise<LeaseState> {
    return reportProgress(this.ctx, ref, progress, extra);
  }

  async appendTaskLogs(ref: AttemptRef, lines: NewLogLine[]): Promise<void> {
    await appendTaskLogs(this.ctx, ref, lines);
  }

  async listTaskLogs(jobId: string, options: { afterId?: number; taskId?: string; limit: number }): Promise<TaskLogLine[]> {
    return listTaskLogs(this.ctx, jobId, options);
  }

  async acknowledge(workerId: string, acks: TaskAcks): Promise<AckState[]> {
    return this.announcing((ctx) => acknowledge(ctx, workerId, acks));
  }

  async assertAttempt(ref: AttemptRef): Promise<{ jobId: string }> {
    return assertAttempt(this.ctx, ref);
  }

  async recordArtifact(ref: AttemptRef, artifact: NewArtifact): Promise<Artifact> {
    return artifacts.recordArtifact(this.ctx, ref, artifact);
  }

  async completeTask(ref: AttemptRef, result: unknown): Promise<void> {
    await this.announcing((ctx) => completeTask(ctx, ref, result));
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
    return takeBlobTrash(this.ctx, limit);
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
