// The coordinator's Prometheus metrics (served at /metrics by metrics-http.ts; each one is listed
// in docs/operations.md). prom-client rather than hand-written text: it gets the exposition
// format's escaping, histogram buckets and async collect-at-scrape right, and what a task costs
// here (a claim, its end, three requests observed) measured 4 µs, under 1% of the ~0.45 ms of
// coordinator CPU per task in bench/dispatch. One registry per coordinator, never prom-client's
// global one: tests run several coordinators in one process and each must count only its own.
//
// Counters and histograms count what this coordinator did. The gauges (queue depth, workers) are
// read from the database at scrape time, so every coordinator on one database reports the same
// values: aggregate them with max(), not sum().
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClaimedTask } from '../protocol/index.js';
import type { OpenTaskState, RequeueResult, Store } from '../store/store.js';
import type { CoordinatorDeps } from './deps.js';
import { AttemptClock } from './metrics-attempts.js';

/** How an attempt ended, as the worker reported it (or the store answered its failure report). */
export type AttemptOutcome = 'completed' | 'failed' | 'retried' | 'canceled';
/** Why a task went back to pending: a retryable error, a draining worker's hand-back, or the janitor. */
export type RetryReason = 'error' | 'handed_back' | 'lease_expired';
export type UploadType = 'input' | 'artifact';

const OPEN_STATES: readonly OpenTaskState[] = ['pending', 'waiting', 'assigned', 'running', 'canceling'];
const WORKER_STATES = ['online', 'offline'] as const;
// From a noop's milliseconds to a feature-length transcode's hours.
const TASK_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
// Up to the long polls (claims wait up to 30 s, GET /v1/jobs/:id?wait up to 60 s).
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly attempts = new AttemptClock();
  /** Kinds ever seen in the queue: they keep reporting 0 rather than vanish when drained. */
  private readonly queueKinds = new Set<string>();

  private readonly claims = new Counter({ name: 'vidfleet_tasks_claimed_total', help: 'Attempts handed to workers by claims, by task kind.', labelNames: ['kind'], registers: [this.registry] });
  private readonly durations = new Histogram({
    name: 'vidfleet_task_duration_seconds',
    help: 'Time from an attempt\'s claim to the report of its end (completed, failed, retried, canceled), by task kind; only attempts claimed and reported through this coordinator.',
    labelNames: ['kind', 'outcome'],
    buckets: TASK_BUCKETS,
    registers: [this.registry],
  });
  private readonly retries = new Counter({ name: 'vidfleet_task_retries_total', help: 'Tasks put back to pending for another attempt, by reason.', labelNames: ['reason'], registers: [this.registry] });
  private readonly expiries = new Counter({
    name: 'vidfleet_lease_expiries_total',
    help: 'Attempts the janitor took back because their lease ran out (or their run deadline passed), by what became of the task.',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly uploads = new Counter({ name: 'vidfleet_uploaded_bytes_total', help: 'Bytes stored from uploads: client inputs and worker artifacts.', labelNames: ['type'], registers: [this.registry] });
  private readonly http = new Histogram({
    name: 'vidfleet_http_request_duration_seconds',
    help: 'HTTP request durations by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  private readonly torrentBytes = new Counter({ name: 'vidfleet_torrent_bytes_fetched_total', help: 'Bytes of torrent payload fetched for tasks.', registers: [this.registry] });
  private readonly storeErrors = new Counter({ name: 'vidfleet_metrics_store_errors_total', help: 'Scrapes whose database reads (queue depth, workers) failed; those gauges are left out of that scrape.', registers: [this.registry] });
  private readonly httpChildren = new Map<string, Histogram.Internal<string>>();

  constructor(store: Store) {
    const queue: Gauge<'kind' | 'state'> = new Gauge({
      name: 'vidfleet_queue_depth',
      help: 'Unfinished tasks by kind and state (pending: claimable now or after a retry backoff; waiting: on dependencies), read from the database at scrape time.',
      labelNames: ['kind', 'state'],
      registers: [this.registry],
      collect: async () => {
        queue.reset();
        const counts = await this.readStore(() => store.taskCounts());
        if (!counts) return;
        for (const { kind } of counts) this.queueKinds.add(kind);
        for (const kind of this.queueKinds) for (const state of OPEN_STATES) queue.set({ kind, state }, 0);
        for (const { kind, status, count } of counts) queue.set({ kind, state: status }, count);
      },
    });
    const workers: Gauge<'state'> = new Gauge({
      name: 'vidfleet_workers',
      help: 'Registered workers by state, read from the database at scrape time.',
      labelNames: ['state'],
      registers: [this.registry],
      collect: async () => {
        workers.reset();
        const list = await this.readStore(() => store.listWorkers());
        if (!list) return;
        for (const state of WORKER_STATES) workers.set({ state }, list.filter((w) => w.status === state).length);
      },
    });
  }

  /** A store read for a gauge; a failure leaves that gauge out of this scrape rather than failing it. */
  private async readStore<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch {
      this.storeErrors.inc();
      return undefined;
    }
  }

  tasksClaimed(tasks: readonly ClaimedTask[]): void {
    for (const t of tasks) {
      this.claims.inc({ kind: t.kind });
      this.attempts.claimed(t.taskId, t.attempt, t.kind);
    }
  }

  /** A worker reported the end of an attempt and the store accepted it. */
  attemptEnded(taskId: string, attempt: number, outcome: AttemptOutcome): void {
    const ended = this.attempts.ended(taskId, attempt);
    if (ended) this.durations.observe({ kind: ended.kind, outcome }, ended.seconds);
  }

  taskRetried(reason: RetryReason, count = 1): void {
    if (count > 0) this.retries.inc({ reason }, count);
  }

  /** A janitor pass: what became of the attempts whose lease ran out. */
  leasesExpired({ requeued, failed, canceled }: RequeueResult): void {
    if (requeued > 0) this.expiries.inc({ outcome: 'requeued' }, requeued);
    if (failed > 0) this.expiries.inc({ outcome: 'failed' }, failed);
    if (canceled > 0) this.expiries.inc({ outcome: 'canceled' }, canceled);
    this.taskRetried('lease_expired', requeued);
  }

  bytesUploaded(type: UploadType, bytes: number): void {
    this.uploads.inc({ type }, bytes);
  }

  /** Registered now, fed by the torrent source once it reports what it fetched. */
  torrentBytesFetched(bytes: number): void {
    this.torrentBytes.inc(bytes);
  }

  /** One finished HTTP request; `route` is the route pattern, never the raw URL (bounded labels). */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void {
    // Children by label set skip prom-client's label validation on every request.
    const key = `${method} ${statusCode} ${route}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      child = this.http.labels({ method, route, status_code: String(statusCode) });
      this.httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** The exposition text, gauges read from the store now. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

// One set of metrics per running coordinator. server.ts builds the deps that every part shares
// (routes, janitor); keying the metrics on that object gives each part the same instance without
// another field every builder of deps would have to fill.
const byDeps = new WeakMap<CoordinatorDeps, CoordinatorMetrics>();

export function metricsOf(deps: CoordinatorDeps): CoordinatorMetrics {
  let metrics = byDeps.get(deps);
  if (!metrics) {
    metrics = new CoordinatorMetrics(deps.store);
    byDeps.set(deps, metrics);
  }
  return metrics;
}
