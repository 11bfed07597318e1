// What every conformance group shares: the suite's clock, the store under test (a fresh database
// per test), and small helpers. Nothing here knows a SQL dialect.
import { afterEach, beforeEach, expect } from 'vitest';
import { ERROR_CATALOG, VidfleetError, type ClaimedTask, type ErrorBody, type ErrorCode, type Job, type Task } from '../../../src/protocol/index.js';
import type { GraphExpanders } from '../../../src/store/graph.js';
import type { AttemptRef, IdempotencyOptions, JobEvent, NewJob, RequeueResult, Store } from '../../../src/store/store.js';

export interface MakeStoreOptions {
  /** The clock the store must use, in ms since the epoch. */
  now: () => number;
  /** When set, open another store on the same database as this one instead of a fresh database. */
  sameDatabaseAs?: Store;
  /** The store must run these graph expanders (TEST_EXPANDERS). */
  expanders: GraphExpanders;
}
export type MakeStore = (options: MakeStoreOptions) => Promise<Store>;

export type ConformanceTable = 'jobs' | 'tasks' | 'artifacts' | 'events' | 'idempotency_keys' | 'task_logs';

/**
 * Optional ways for a dialect to let the suite look past the Store interface. Tests that need a
 * hook the dialect does not give are reported as skipped, not passed.
 */
export interface ConformanceHooks {
  /** Rows in `table` of the database `store` is connected to. */
  countRows?: (store: Store, table: ConformanceTable) => Promise<number>;
}

export const T0 = Date.UTC(2030, 0, 1);
export const LEASE = 30_000;
/** maxRunMs of test tasks unless a test sets one: long enough never to matter by accident. */
export const MAX_RUN = 24 * 3_600_000;
export const CAPS = { kinds: ['probe', 'thumbnail'], concurrency: 2, ffmpegVersion: '7.1', encoders: ['libx264'], hwaccels: [] };
export const NOTHING: RequeueResult = { requeued: 0, failed: 0, canceled: 0 };

export interface JobOptions {
  kind?: string;
  priority?: number;
  tasks?: number;
  maxAttempts?: number;
  maxRunMs?: number;
}

export function newJob(o: JobOptions = {}): NewJob {
  const kind = o.kind ?? 'probe';
  return {
    kind,
    input: 'store://uploads/clip.mp4',
    params: { p: 1 },
    priority: o.priority ?? 0,
    tasks: Array.from({ length: o.tasks ?? 1 }, (_, i) => ({
      kind,
      input: 'store://uploads/clip.mp4',
      params: { part: i },
      maxAttempts: o.maxAttempts ?? 3,
      maxRunMs: o.maxRunMs ?? MAX_RUN,
    })),
  };
}

/**
 * The suite's graph expander: a completed `plan` task whose result is { parts: n } adds n probe
 * tasks "part/i" after it and a probe task "final" after all of them; { throw: message } makes it
 * throw; a result without parts adds nothing.
 */
export const TEST_EXPANDERS: GraphExpanders = {
  plan: ({ result, task }) => {
    const r = result as { parts?: number; throw?: string } | null;
    if (r?.throw) throw new VidfleetError('INVALID_PARAMS', r.throw);
    if (!r?.parts) return [];
    const parts = Array.from({ length: r.parts }, (_, i) => ({
      kind: 'probe', input: 'store://uploads/clip.mp4', params: { part: i }, maxAttempts: 2, maxRunMs: MAX_RUN, name: `part/${i}`, after: [task.name ?? 'plan'], weight: 2,
    }));
    return [...parts, { kind: 'probe', input: 'store://uploads/clip.mp4', params: {}, maxAttempts: 2, maxRunMs: MAX_RUN, name: 'final', after: parts.map((p) => p.name) }];
  },
};

export function idem(o: Partial<IdempotencyOptions> = {}): IdempotencyOptions {
  return { owner: 'alice', key: 'key-1', requestHash: 'hash-1', ttlMs: 60_000, ...o };
}

export function errorBody(code: ErrorCode, retryable: boolean = ERROR_CATALOG[code].retryable): ErrorBody {
  return { code, message: `${code} in a test`, hint: ERROR_CATALOG[code].hint, retryable };
}

export const ref = (c: ClaimedTask, workerId: string, attempt = c.attempt): AttemptRef => ({ taskId: c.taskId, attempt, workerId });

export const iso = (ms: number): string => new Date(ms).toISOString();

export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: 'VidfleetError', code });
}

export function sumRequeues(results: RequeueResult[]): RequeueResult {
  return results.reduce((a, r) => ({ requeued: a.requeued + r.requeued, failed: a.failed + r.failed, canceled: a.canceled + r.canceled }), NOTHING);
}

export interface Harness {
  /** The store of the current test, on a fresh database. */
  readonly store: Store;
  /** The suite's clock (ms since the epoch); every store opened by the suite reads it. Starts at T0. */
  clock: number;
  readonly hooks: ConformanceHooks;
  /** Another store: on a fresh database, or on the same one as `sameDatabaseAs`. Closed after the test. */
  open(sameDatabaseAs?: Store): Promise<Store>;
  worker(s?: Store, name?: string): Promise<string>;
  /** createJob(newJob(o)).job */
  submit(o?: JobOptions): Promise<Job>;
  claim(workerId: string, max: number, kinds?: string[], leaseMs?: number): Promise<ClaimedTask[]>;
  claimOne(workerId: string, kinds?: string[], leaseMs?: number): Promise<ClaimedTask>;
  task(jobId: string, i?: number): Promise<Task | undefined>;
  snapshot(jobId: string): Promise<{ job: Job | null; artifacts: unknown[]; events: JobEvent[] }>;
  eventTypes(jobId: string): Promise<string[]>;
}

/** Call inside a describe: registers the per-test setup and teardown. */
export function createHarness(makeStore: MakeStore, hooks: ConformanceHooks): Harness {
  let clock = T0;
  let current: Store | undefined;
  const opened: Store[] = [];
  const now = () => clock;

  const h: Harness = {
    get store(): Store {
      if (!current) throw new Error('no store: used outside a test');
      return current;
    },
    get clock() {
      return clock;
    },
    set clock(ms: number) {
      clock = ms;
    },
    hooks,
    async open(sameDatabaseAs) {
      const s = await makeStore({ now, sameDatabaseAs, expanders: TEST_EXPANDERS });
      opened.push(s);
      await s.migrate();
      return s;
    },
    async worker(s = h.store, name = 'w') {
      return (await s.registerWorker({ name, hostname: 'host', capabilities: CAPS })).id;
    },
    async submit(o) {
      return (await h.store.createJob(newJob(o))).job;
    },
    async claim(workerId, max, kinds = ['probe'], leaseMs = LEASE) {
      return h.store.claimTasks({ workerId, kinds, max, leaseMs });
    },
    async claimOne(workerId, kinds = ['probe'], leaseMs = LEASE) {
      const got = await h.claim(workerId, 1, kinds, leaseMs);
      expect(got).toHaveLength(1);
      return got[0] as ClaimedTask;
    },
    async task(jobId, i = 0) {
      const job = await h.store.getJob(jobId, { withTasks: true });
      return job?.tasks?.[i];
    },
    async snapshot(jobId) {
      return { job: await h.store.getJob(jobId, { withTasks: true }), artifacts: await h.store.listArtifacts(jobId), events: await h.store.listEvents(jobId) };
    },
    async eventTypes(jobId) {
      return (await h.store.listEvents(jobId)).map((e) => e.type);
    },
  };

  beforeEach(async () => {
    clock = T0;
    current = await h.open();
  });
  afterEach(async () => {
    current = undefined;
    for (const s of opened.splice(0)) await s.close();
  });
  return h;
}
