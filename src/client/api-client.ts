// Typed calls for every /v1 route. The CLI uses the client half, the worker the worker half.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { IncomingMessage } from 'node:http';
import type {
  AckBody, AckResponse, AckState, Artifact, ClaimBody, Credentials, FeedEvent, ClaimResponse, JobLogsResponse, TaskLogsBody, ErrorBody, FailResponse, HeartbeatResponse, Job, ListJobsResponse,
  ProgressBody, ProgressResponse, RegisterWorkerBody, RegisterWorkerResponse, SubmitJobBody, TaskRef, UploadResponse, Worker,
} from '../protocol/index.js';
import { ARTIFACT_SHA256_HEADER } from '../protocol/index.js';
import { HttpClient, type RequestOptions } from './http.js';
import { SubmitBatcher } from './submit-batcher.js';
import { followEvents, type FollowOptions } from './event-stream.js';

const enc = encodeURIComponent;
const encPath = (p: string): string => p.split('/').map(enc).join('/');

export class VidfleetClient {
  readonly http: HttpClient;
  private readonly submits: SubmitBatcher;

  /** One coordinator URL, or several (a list, or comma-separated) of coordinators sharing one PostgreSQL. */
  constructor(baseUrl: string | readonly string[], options: { credentials?: Credentials | null } = {}) {
    this.http = new HttpClient(baseUrl, options.credentials ?? null);
    this.submits = new SubmitBatcher({
      one: (body, idempotencyKey) => {
        const headers: Record<string, string> = idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey };
        return this.http.json('/v1/jobs', { body, headers });
      },
      many: (body) => this.http.json('/v1/job-batches', { body }),
    });
  }

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /** Lets go of idle keep-alive connections. */
  close(): void {
    this.http.close();
  }

  // ---- clients ----
  /** Submits made together (a loop, a Promise.all) travel in one request; each answers for itself. */
  submitJob(body: SubmitJobBody, options: { idempotencyKey?: string } = {}): Promise<Job> {
    return this.submits.submit(body, options.idempotencyKey || undefined);
  }

  /** The fleet's (or one job's) events as they happen, resumed across dropped connections. */
  followEvents(options: FollowOptions = {}): AsyncGenerator<FeedEvent> {
    return followEvents(this.http, options);
  }

  /** One page of the event feed after `after` (JSON mode, for pollers). */
  listFeed(query: { after?: string; jobId?: string; types?: string[]; limit?: number } = {}): Promise<{ events: FeedEvent[]; cursor: string | null }> {
    const params = new URLSearchParams();
    if (query.after !== undefined) params.set('after', query.after);
    if (query.types?.length) params.set('types', query.types.join(','));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const base = query.jobId === undefined ? '/v1/events' : `/v1/jobs/${enc(query.jobId)}/events`;
    return this.http.json(params.size > 0 ? `${base}?${params}` : base);
  }

  cancelJob(id: string): Promise<Job> {
    return this.http.json(`/v1/jobs/${enc(id)}/cancel`, { method: 'POST', body: {} });
  }

  /** `waitSeconds` > 0 long-polls until the job ends or the time passes. */
  getJob(id: string, waitSeconds = 0, signal?: AbortSignal): Promise<Job> {
    const q = waitSeconds > 0 ? `?wait=${waitSeconds}` : '';
    return this.http.json(`/v1/jobs/${enc(id)}${q}`, { signal, timeoutMs: (waitSeconds + 30) * 1000 });
  }

  listJobs(query: { status?: string; kind?: string; limit?: number; cursor?: string } = {}): Promise<ListJobsResponse> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const q = params.size > 0 ? `?${params}` : '';
    return this.http.json(`/v1/jobs${q}`);
  }

  /** A job's task log lines after `after`; `wait` > 0 long-polls for new ones while the job runs. */
  jobLogs(jobId: string, query: { after?: number; task?: string; limit?: number; wait?: number } = {}, signal?: AbortSignal): Promise<JobLogsResponse> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const q = params.size > 0 ? `?${params}` : '';
    return this.http.json(`/v1/jobs/${enc(jobId)}/logs${q}`, { signal, timeoutMs: ((query.wait ?? 0) + 30) * 1000 });
  }

  /** Task log lines of one attempt (the worker's batched log shipping). */
  appendTaskLogs(workerId: string, taskId: string, body: TaskLogsBody): Promise<{ ok: true }> {
    return this.http.json(`${this.taskPath(workerId, taskId)}/logs`, { body, timeoutMs: 15_000 });
  }

  async listArtifacts(jobId: string): Promise<Artifact[]> {
    return (await this.http.json<{ artifacts: Artifact[] }>(`/v1/jobs/${enc(jobId)}/artifacts`)).artifacts;
  }

  async downloadArtifact(jobId: string, name: string, signal?: AbortSignal): Promise<IncomingMessage> {
    return this.http.request(`/v1/jobs/${enc(jobId)}/artifacts/${encPath(name)}`, { timeoutMs: 3_600_000, ...(signal && { signal }) });
  }

  /** A URL ffmpeg can read a stored blob from: with a read token when requests are signed. */
  async blobUrl(key: string, ttlSeconds?: number): Promise<string> {
    const base = this.http.baseUrl;
    if (!this.http.signs) return `${base}/v1/blobs/${encPath(key)}`;
    const { path } = await this.http.json<{ path: string }>('/v1/blob-urls', { body: { key, ...(ttlSeconds !== undefined && { ttlSeconds }) } });
    return base + path;
  }

  async uploadFile(path: string, name = basename(path)): Promise<UploadResponse> {
    const { size } = await stat(path);
    // A signed upload declares its digest before the bytes: one extra read of the file.
    const contentSha256 = this.http.signs ? await fileSha256(path) : undefined;
    return this.http.json(`/v1/uploads?name=${enc(name)}`, {
      raw: { data: createReadStream(path), contentType: 'application/octet-stream', length: size },
      ...(contentSha256 && { contentSha256 }),
      timeoutMs: 24 * 3_600_000,
    });
  }

  // ---- workers ----
  registerWorker(body: RegisterWorkerBody): Promise<RegisterWorkerResponse> {
    return this.http.json('/v1/workers', { body });
  }

  async listWorkers(): Promise<Worker[]> {
    return (await this.http.json<{ workers: Worker[] }>('/v1/workers')).workers;
  }

  async deregisterWorker(workerId: string): Promise<void> {
    (await this.http.request(`/v1/workers/${enc(workerId)}`, { method: 'DELETE', timeoutMs: 10_000 })).resume();
  }

  heartbeat(workerId: string, tasks: TaskRef[]): Promise<HeartbeatResponse> {
    return this.http.json(`/v1/workers/${enc(workerId)}/heartbeat`, { body: { tasks }, timeoutMs: 15_000 });
  }

  /** Claims up to `max` tasks, long-polling up to `waitSeconds`; `acks` are applied first (a claim carrying acks does not wait). */
  claim(workerId: string, max: number, waitSeconds: number, signal?: AbortSignal, acks?: AckBody): Promise<ClaimResponse> {
    const body: ClaimBody = { ...acks, max, waitSeconds };
    return this.http.json(`/v1/workers/${enc(workerId)}/claim`, { body, signal, timeoutMs: (waitSeconds + 15) * 1000 });
  }

  /** Batched started/completed reports (see AckBody). */
  async acknowledge(workerId: string, acks: AckBody): Promise<AckState[]> {
    return (await this.http.json<AckResponse>(`/v1/workers/${enc(workerId)}/acks`, { body: acks, timeoutMs: 30_000 })).acks;
  }

  private taskPath(workerId: string, taskId: string): string {
    return `/v1/workers/${enc(workerId)}/tasks/${enc(taskId)}`;
  }

  progress(workerId: string, taskId: string, body: ProgressBody): Promise<ProgressResponse> {
    return this.http.json(`${this.taskPath(workerId, taskId)}/progress`, { body, timeoutMs: 15_000 });
  }

  complete(workerId: string, taskId: string, attempt: number, result: unknown): Promise<{ ok: true }> {
    return this.http.json(`${this.taskPath(workerId, taskId)}/complete`, { body: { attempt, result } });
  }

  fail(workerId: string, taskId: string, attempt: number, error: ErrorBody, resumeData?: unknown): Promise<FailResponse> {
    return this.http.json(`${this.taskPath(workerId, taskId)}/fail`, { body: { attempt, error, resumeData } });
  }

  async uploadArtifact(
    ref: { workerId: string; taskId: string; attempt: number },
    artifact: { name: string; path: string; contentType: string; sha256?: string },
    options: Pick<RequestOptions, 'signal'> = {},
  ): Promise<Artifact> {
    const { size } = await stat(artifact.path);
    const headers: Record<string, string> = artifact.sha256 ? { [ARTIFACT_SHA256_HEADER]: artifact.sha256 } : {};
    return this.http.json(`${this.taskPath(ref.workerId, ref.taskId)}/attempts/${ref.attempt}/artifacts/${encPath(artifact.name)}`, {
      method: 'PUT',
      raw: { data: createReadStream(artifact.path), contentType: artifact.contentType, length: size },
      headers,
      signal: options.signal,
      timeoutMs: 3_600_000,
      ...(this.http.signs && { contentSha256: artifact.sha256 ?? (await fileSha256(artifact.path)) }),
    });
  }
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
