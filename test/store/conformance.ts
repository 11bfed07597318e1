// The Store conformance suite: every rule of src/store/store.ts, run against each dialect.
// A dialect's test file calls runStoreConformance with a factory; the factory receives the
// suite's clock (so leases expire without sleeping) and, for race tests, a store whose database
// the new one must share (another connection to the same file / schema).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ERROR_CATALOG, type ClaimedTask, type ErrorBody, type ErrorCode, type Job } from '../../src/protocol/index.js';
import type { AttemptRef, NewJob, Store } from '../../src/store/store.js';

export interface MakeStoreOptions {
  /** The clock the store must use, in ms since the epoch. */
  now: () => number;
  /** When set, open another store on the same database as this one instead of a fresh database. */
  sameDatabaseAs?: Store;
}
export type MakeStore = (options: MakeStoreOptions) => Promise<Store>;

const T0 = Date.UTC(2030, 0, 1);
const LEASE = 30_000;
const CAPS = { kinds: ['probe', 'thumbnail'], concurrency: 2, ffmpegVersion: '7.1', encoders: ['libx264'], hwaccels: [] };

function newJob(o: { kind?: string; priority?: number; tasks?: number; maxAttempts?: number } = {}): NewJob {
  const kind = o.kind ?? 'probe';
  return {
    kind,
    input: 'store://uploads/clip.mp4',
    params: { p: 1 },
    priority: o.priority ?? 0,
    tasks: Array.from({ length: o.tasks ?? 1 }, (_, i) => ({ kind, input: 'store://uploads/clip.mp4', params: { part: i }, maxAttempts: o.maxAttempts ?? 3 })),
  };
}

function errorBody(code: ErrorCode, retryable: boolean = ERROR_CATALOG[code].retryable): ErrorBody {
  return { code, message: `${code} in a test`, hint: ERROR_CATALOG[code].hint, retryable };
}

const ref = (c: ClaimedTask, workerId: string, attempt = c.attempt): AttemptRef => ({ taskId: c.taskId, attempt, workerId });

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: 'VidfleetError', code });
}

export function runStoreConformance(name: string, makeStore: MakeStore): void {
  describe(`Store conformance: ${name}`, () => {
    let clock = T0;
    const now = () => clock;
    const iso = (ms: number) => new Date(ms).toISOString();
    const opened: Store[] = [];
    let store: Store;

    async function open(sameDatabaseAs?: Store): Promise<Store> {
      const s = await makeStore({ now, sameDatabaseAs });
      opened.push(s);
      await s.migrate();
      return s;
    }
    async function worker(s: Store = store, name = 'w'): Promise<string> {
      return (await s.registerWorker({ name, hostname: 'host', capabilities: CAPS })).id;
    }
    async function claimOne(workerId: string, kinds = ['probe'], leaseMs = LEASE): Promise<ClaimedTask> {
      const got = await store.claimTasks({ workerId, kinds, max: 1, leaseMs });
      expect(got).toHaveLength(1);
      return got[0] as ClaimedTask;
    }
    async function task(jobId: string, i = 0) {
      const job = (await store.getJob(jobId, { withTasks: true })) as Job;
      return job.tasks?.[i];
    }
    async function snapshot(jobId: string) {
      return { job: await store.getJob(jobId, { withTasks: true }), artifacts: await store.listArtifacts(jobId), events: await store.listEvents(jobId) };
    }
    async function eventTypes(jobId: string): Promise<string[]> {
      return (await store.listEvents(jobId)).map((e) => e.type);
    }

    beforeEach(async () => {
      clock = T0;
      store = await open();
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    describe('schema and jobs', () => {
      it('migrate is harmless to repeat, also from a second connection', async () => {
        const job = await store.createJob(newJob());
        await store.migrate();
        const other = await open(store);
        await other.migrate();
        expect((await other.getJob(job.id))?.id).toBe(job.id);
        expect((await store.createJob(newJob())).status).toBe('pending');
      });

      it('creates a pending job with pending tasks and reads it back', async () => {
        const job = await store.createJob(newJob({ tasks: 2, priority: 7 }));
        expect(job).toMatchObject({ kind: 'probe', input: 'store://uploads/clip.mp4', params: { p: 1 }, priority: 7, status: 'pending', progress: 0 });
        expect(job).toMatchObject({ error: null, result: null, createdAt: iso(T0), updatedAt: iso(T0), finishedAt: null });
        expect(job.tasks?.map((t) => [t.status, t.attempt, t.maxAttempts, t.workerId, t.jobId])).toEqual([
          ['pending', 0, 3, null, job.id],
          ['pending', 0, 3, null, job.id],
        ]);
        const plain = await store.getJob(job.id);
        expect(plain?.tasks).toBeUndefined();
        expect({ ...plain, tasks: job.tasks }).toEqual(job);
        expect(await store.getJob(job.id, { withTasks: true })).toEqual(job);
        expect(await store.getJob('job_doesnotexist0000000000')).toBeNull();
        expect(await eventTypes(job.id)).toEqual(['job.created']);
      });

      it('refuses a job without tasks', async () => {
        await expectCode(store.createJob({ ...newJob(), tasks: [] }), 'VALIDATION_FAILED');
      });

      it('lists newest first, filters by status and kind, and pages with a cursor', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          ids.push((await store.createJob(newJob({ kind: i % 2 === 0 ? 'probe' : 'thumbnail' }))).id);
          clock += 1000;
        }
        const newestFirst = [...ids].reverse();
        const pages: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listJobs({ limit: 3, cursor });
          pages.push(page.jobs.map((j) => j.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(pages.flat()).toEqual(newestFirst);

        expect((await store.listJobs({ limit: 7 })).nextCursor).toBeNull();
        const thumbs1 = await store.listJobs({ kind: 'thumbnail', limit: 2 });
        const thumbs2 = await store.listJobs({ kind: 'thumbnail', limit: 2, cursor: thumbs1.nextCursor ?? undefined });
        expect([...thumbs1.jobs, ...thumbs2.jobs].map((j) => j.id)).toEqual([ids[5], ids[3], ids[1]]);
        expect(thumbs2.nextCursor).toBeNull();

        await claimOne(await worker(), ['thumbnail']); // the oldest thumbnail job starts running
        expect((await store.listJobs({ status: 'running', limit: 10 })).jobs.map((j) => j.id)).toEqual([ids[1]]);
        const pendingProbes = await store.listJobs({ status: 'pending', kind: 'probe', limit: 10 });
        expect(pendingProbes.jobs.map((j) => j.id)).toEqual([ids[6], ids[4], ids[2], ids[0]]);
        await expectCode(store.listJobs({ limit: 3, cursor: 'not a cursor' }), 'VALIDATION_FAILED');
      });

      it('registers, reads and lists workers', async () => {
        const w = await store.registerWorker({ name: 'gpu-1', hostname: 'box', capabilities: CAPS });
        expect(w).toMatchObject({ name: 'gpu-1', hostname: 'box', status: 'online', capabilities: CAPS, registeredAt: iso(T0), lastHeartbeatAt: iso(T0) });
        expect(await store.getWorker(w.id)).toEqual(w);
        expect(await store.getWorker('wkr_nope')).toBeNull();
        expect((await store.listWorkers()).map((x) => x.id)).toContain(w.id);
      });
    });

    describe('claiming', () => {
      it('hands out only pending tasks of the given kinds, by priority then age', async () => {
        const old = await store.createJob(newJob());
        clock += 10;
        const young = await store.createJob(newJob());
        const urgent = await store.createJob(newJob({ kind: 'thumbnail', priority: 5 }));
        const other = await store.createJob(newJob({ kind: 'transcode', priority: 100 }));
        const w = await worker();
        const got = await store.claimTasks({ workerId: w, kinds: ['probe', 'thumbnail'], max: 10, leaseMs: LEASE });
        expect(got.map((c) => c.jobId)).toEqual([urgent.id, old.id, young.id]);
        expect(got[1]).toMatchObject({ attempt: 1, kind: 'probe', params: { part: 0 }, resumeData: null, leaseExpiresAt: iso(clock + LEASE) });
        expect(await task(old.id)).toMatchObject({ status: 'assigned', attempt: 1, workerId: w, leaseExpiresAt: iso(clock + LEASE) });
        expect((await store.getJob(old.id))?.status).toBe('running');
        expect((await store.getJob(other.id))?.status).toBe('pending');
        expect(await store.claimTasks({ workerId: w, kinds: ['probe', 'thumbnail'], max: 10, leaseMs: LEASE })).toEqual([]);
        expect(await eventTypes(old.id)).toEqual(['job.created', 'task.claimed']);
      });

      it('breaks ties of priority and time in creation order', async () => {
        const ids = [];
        for (let i = 0; i < 5; i++) ids.push((await store.createJob(newJob())).id);
        const got = await store.claimTasks({ workerId: await worker(), kinds: ['probe'], max: 5, leaseMs: LEASE });
        expect(got.map((c) => c.jobId)).toEqual(ids);
      });

      it('picks by priority across and within kinds when claiming fewer than wait', async () => {
        const ids: Record<string, string> = {};
        for (const [label, kind, priority] of [['p0', 'probe', 0], ['p5', 'probe', 5], ['t3', 'thumbnail', 3], ['p1', 'probe', 1], ['t9', 'thumbnail', 9]] as const) {
          ids[label] = (await store.createJob(newJob({ kind, priority }))).id;
        }
        const w = await worker();
        const take = async (max: number) => (await store.claimTasks({ workerId: w, kinds: ['probe', 'thumbnail'], max, leaseMs: LEASE })).map((c) => c.jobId);
        expect(await take(1)).toEqual([ids.t9]);
        expect(await take(1)).toEqual([ids.p5]);
        expect(await take(2)).toEqual([ids.t3, ids.p1]);
        expect(await take(5)).toEqual([ids.p0]);
      });

      it('claims at most max tasks per call', async () => {
        await store.createJob(newJob({ tasks: 5 }));
        const w = await worker();
        const sizes = [];
        for (let i = 0; i < 4; i++) sizes.push((await store.claimTasks({ workerId: w, kinds: ['probe'], max: 2, leaseMs: LEASE })).length);
        expect(sizes).toEqual([2, 2, 1, 0]);
      });

      it('refuses an unregistered worker', async () => {
        await store.createJob(newJob());
        await expectCode(store.claimTasks({ workerId: 'wkr_unknown', kinds: ['probe'], max: 1, leaseMs: LEASE }), 'WORKER_NOT_FOUND');
      });

      it('never hands one task to two of several racing claimers on one database', async () => {
        const stores = [store, await open(store), await open(store), await open(store)];
        const jobs = [];
        for (let i = 0; i < 50; i++) jobs.push(await store.createJob(newJob({ tasks: 10 })));
        const owner = new Map<string, string>();
        let duplicates = 0;
        const claimer = async (s: Store, i: number) => {
          const w = await worker(s, `racer-${i}`);
          for (;;) {
            const got = await s.claimTasks({ workerId: w, kinds: ['probe'], max: 1 + (i % 3), leaseMs: LEASE });
            if (got.length === 0) return;
            for (const c of got) {
              if (owner.has(c.taskId)) duplicates++;
              owner.set(c.taskId, w);
              expect(c.attempt).toBe(1);
            }
            await new Promise((r) => setTimeout(r, 0));
          }
        };
        await Promise.all(stores.map((s, i) => claimer(s, i)));
        expect(duplicates).toBe(0);
        expect(owner.size).toBe(500);
        for (const job of jobs) {
          for (const t of (await store.getJob(job.id, { withTasks: true }))?.tasks ?? []) {
            expect([t.status, t.attempt, t.workerId]).toEqual(['assigned', 1, owner.get(t.id)]);
          }
        }
      });
    });

    describe('leases and fencing', () => {
      it('heartbeat renews held attempts and answers lost for the rest', async () => {
        const job = await store.createJob(newJob());
        const a = await worker(store, 'a');
        const b = await worker(store, 'b');
        const c = await claimOne(a);
        clock += 20_000;
        const answer = await store.heartbeat(a, [{ taskId: c.taskId, attempt: 1 }, { taskId: c.taskId, attempt: 2 }, { taskId: 'task_nope', attempt: 1 }], LEASE);
        expect(answer.map((x) => x.state)).toEqual(['ok', 'lost', 'lost']);
        expect((await store.heartbeat(b, [{ taskId: c.taskId, attempt: 1 }], LEASE))[0]?.state).toBe('lost');
        expect((await task(job.id))?.leaseExpiresAt).toBe(iso(T0 + 20_000 + LEASE));
        expect((await store.getWorker(a))?.lastHeartbeatAt).toBe(iso(T0 + 20_000));
        clock = T0 + LEASE + 10_000; // past the first lease, inside the renewed one
        expect(await store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 0 });
        await expectCode(store.heartbeat('wkr_unknown', [], LEASE), 'WORKER_NOT_FOUND');
      });

      it('refuses every write of an attempt that expired and was claimed again, changing nothing', async () => {
        const job = await store.createJob(newJob());
        const a = await worker(store, 'a');
        const b = await worker(store, 'b');
        const first = await claimOne(a);
        await store.reportProgress(ref(first, a), 0.3);
        await store.recordArtifact(ref(first, a), { name: 'a.txt', key: 'jobs/x/a.txt', size: 1, sha256: 'aa', contentType: 'text/plain' });
        clock += LEASE;
        expect(await store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0 });
        const second = await claimOne(b);
        expect(second.attempt).toBe(2);
        const before = await snapshot(job.id);
        const art = { name: 'a.txt', key: 'jobs/x/other', size: 9, sha256: 'bb', contentType: 'text/plain' };
        for (const stale of [ref(first, a), ref(first, a, 2), ref(second, a)]) {
          await expectCode(store.reportProgress(stale, 0.9), 'STALE_ATTEMPT');
          await expectCode(store.recordArtifact(stale, art), 'STALE_ATTEMPT');
          await expectCode(store.recordArtifact(stale, { ...art, name: 'new.txt' }), 'STALE_ATTEMPT');
          await expectCode(store.completeTask(stale, { bogus: true }), 'STALE_ATTEMPT');
          await expectCode(store.failTask(stale, errorBody('NOT_A_VIDEO'), { retryDelayMs: 0 }), 'STALE_ATTEMPT');
          await expectCode(store.assertAttempt(stale), 'STALE_ATTEMPT');
        }
        expect(await snapshot(job.id)).toEqual(before);
        expect((await store.heartbeat(a, [{ taskId: first.taskId, attempt: 1 }], LEASE))[0]?.state).toBe('lost');
        expect(await store.assertAttempt(ref(second, b))).toEqual({ jobId: job.id });
        await store.completeTask(ref(second, b), { ok: 2 });
        expect(await store.getJob(job.id)).toMatchObject({ status: 'completed', result: { ok: 2 } });
      });

      it('refuses writes for unknown tasks and for attempts already finished', async () => {
        await store.createJob(newJob());
        const w = await worker();
        const c = await claimOne(w);
        const ghost = { taskId: 'task_nope', attempt: 1, workerId: w };
        await expectCode(store.reportProgress(ghost, 0.5), 'TASK_NOT_FOUND');
        await expectCode(store.completeTask(ghost, null), 'TASK_NOT_FOUND');
        await expectCode(store.assertAttempt(ghost), 'TASK_NOT_FOUND');
        await store.completeTask(ref(c, w), { done: true });
        await expectCode(store.completeTask(ref(c, w), { again: true }), 'STALE_ATTEMPT');
        await expectCode(store.reportProgress(ref(c, w), 0.1), 'STALE_ATTEMPT');
        await expectCode(store.failTask(ref(c, w), errorBody('INTERNAL'), { retryDelayMs: 0 }), 'STALE_ATTEMPT');
      });

      it('requeues an expired lease, then fails with WORKER_LOST when attempts run out', async () => {
        const job = await store.createJob(newJob({ maxAttempts: 2 }));
        const w = await worker();
        await claimOne(w, ['probe'], 1000);
        clock += 999;
        expect(await store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 0 });
        clock += 1;
        expect(await store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0 });
        expect(await task(job.id)).toMatchObject({ status: 'pending', attempt: 1, leaseExpiresAt: null, error: { code: 'WORKER_LOST' } });
        expect((await store.getJob(job.id))?.status).toBe('pending');
        expect((await claimOne(w, ['probe'], 1000)).attempt).toBe(2);
        clock += 1000;
        expect(await store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 1 });
        const { hint, retryable } = ERROR_CATALOG.WORKER_LOST;
        expect(await task(job.id)).toMatchObject({ status: 'failed', attempt: 2, finishedAt: iso(clock), error: { code: 'WORKER_LOST', hint, retryable } });
        expect(await store.getJob(job.id)).toMatchObject({ status: 'failed', finishedAt: iso(clock), error: { code: 'WORKER_LOST' } });
        expect(await store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 0 });
        expect(await eventTypes(job.id)).toEqual(['job.created', 'task.claimed', 'task.lease_expired', 'task.claimed', 'task.lease_expired', 'task.failed', 'job.failed']);
      });

      it('never requeues a task completed after its lease ran out but before the janitor came', async () => {
        const job = await store.createJob(newJob());
        const w = await worker();
        const c = await claimOne(w, ['probe'], 1000);
        clock += 5000;
        await store.reportProgress(ref(c, w), 0.5);
        await store.completeTask(ref(c, w), { late: true });
        expect(await store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 0 });
        expect(await store.getJob(job.id)).toMatchObject({ status: 'completed', result: { late: true } });
      });
    });

    describe('progress, completion and failure', () => {
      it('progress moves assigned to running, clamps to 0..1 and feeds the job progress', async () => {
        const job = await store.createJob(newJob({ tasks: 2 }));
        const w = await worker();
        const c = await claimOne(w);
        clock += 100;
        expect(await store.reportProgress(ref(c, w), 0.5)).toBe('ok');
        expect(await task(job.id)).toMatchObject({ status: 'running', progress: 0.5, startedAt: iso(T0 + 100) });
        expect((await store.getJob(job.id))?.progress).toBeCloseTo(0.25);
        await store.reportProgress(ref(c, w), 7);
        expect((await task(job.id))?.progress).toBe(1);
        await store.reportProgress(ref(c, w), -3);
        expect((await task(job.id))?.progress).toBe(0);
        expect((await eventTypes(job.id)).filter((t) => t === 'task.running')).toHaveLength(1);
      });

      it('derives the job status, progress and result from its tasks', async () => {
        const job = await store.createJob(newJob({ tasks: 3 }));
        const w = await worker();
        const [t1, t2, t3] = (await store.claimTasks({ workerId: w, kinds: ['probe'], max: 3, leaseMs: LEASE })) as [ClaimedTask, ClaimedTask, ClaimedTask];
        expect(await store.getJob(job.id)).toMatchObject({ status: 'running', progress: 0 });
        await store.completeTask(ref(t1, w), { n: 1 });
        clock += 10;
        await store.completeTask(ref(t3, w), { n: 3 });
        expect(await store.getJob(job.id)).toMatchObject({ status: 'running', result: null, finishedAt: null });
        expect((await store.getJob(job.id))?.progress).toBeCloseTo(2 / 3);
        clock += 10;
        await store.completeTask(ref(t2, w), { n: 2 });
        // The job's result is that of the task that completed last.
        expect(await store.getJob(job.id)).toMatchObject({ status: 'completed', progress: 1, result: { n: 2 }, error: null, finishedAt: iso(clock) });
        expect((await eventTypes(job.id)).filter((t) => t === 'job.completed')).toHaveLength(1);
      });

      it('a job whose first task is done and next one waits is running', async () => {
        const job = await store.createJob(newJob({ tasks: 2 }));
        const w = await worker();
        await store.completeTask(ref(await claimOne(w), w), null);
        expect(await store.getJob(job.id)).toMatchObject({ status: 'running', progress: 0.5 });
      });

      it('a retryable failure waits for its backoff, then hands resumeData to the next attempt', async () => {
        const job = await store.createJob(newJob({ maxAttempts: 3 }));
        const w = await worker();
        const first = await claimOne(w);
        const status = await store.failTask(ref(first, w), errorBody('FFMPEG_FAILED', true), { resumeData: { done: [1, 2] }, retryDelayMs: 5000 });
        expect(status).toBe('pending');
        expect(await task(job.id)).toMatchObject({ status: 'pending', attempt: 1, runAfter: iso(T0 + 5000), error: { code: 'FFMPEG_FAILED' } });
        expect((await store.getJob(job.id))?.status).toBe('pending');
        expect(await store.nextDueAt(['probe'])).toBe(T0 + 5000);
        expect(await store.claimTasks({ workerId: w, kinds: ['probe'], max: 1, leaseMs: LEASE })).toEqual([]);
        clock += 4999;
        expect(await store.claimTasks({ workerId: w, kinds: ['probe'], max: 1, leaseMs: LEASE })).toEqual([]);
        clock += 1;
        const second = await claimOne(w);
        expect(second).toMatchObject({ attempt: 2, resumeData: { done: [1, 2] } });
        // Failing without new resume data keeps what the earlier attempt left.
        expect(await store.failTask(ref(second, w), errorBody('INPUT_UNREADABLE'), { retryDelayMs: 0 })).toBe('pending');
        expect(await claimOne(w)).toMatchObject({ attempt: 3, resumeData: { done: [1, 2] } });
        expect((await eventTypes(job.id)).filter((t) => t === 'task.retrying')).toHaveLength(2);
      });

      it('a retryable failure on the last attempt fails the task and the job', async () => {
        const job = await store.createJob(newJob({ maxAttempts: 2 }));
        const w = await worker();
        expect(await store.failTask(ref(await claimOne(w), w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 0 })).toBe('pending');
        expect(await store.failTask(ref(await claimOne(w), w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 0 })).toBe('failed');
        expect(await task(job.id)).toMatchObject({ status: 'failed', attempt: 2, error: { code: 'FFMPEG_FAILED' } });
        expect(await store.getJob(job.id)).toMatchObject({ status: 'failed', error: { code: 'FFMPEG_FAILED' } });
        expect(await store.claimTasks({ workerId: w, kinds: ['probe'], max: 1, leaseMs: LEASE })).toEqual([]);
      });

      it('a permanent failure fails the job at once and cancels its waiting tasks', async () => {
        const job = await store.createJob(newJob({ tasks: 4 }));
        const w = await worker();
        const [t1, t2, t3] = (await store.claimTasks({ workerId: w, kinds: ['probe'], max: 3, leaseMs: LEASE })) as [ClaimedTask, ClaimedTask, ClaimedTask];
        clock += 50;
        const error = errorBody('NOT_A_VIDEO');
        expect(await store.failTask(ref(t1, w), error, { retryDelayMs: 1000 })).toBe('failed');
        const failed = (await store.getJob(job.id, { withTasks: true })) as Job;
        expect(failed).toMatchObject({ status: 'failed', error, finishedAt: iso(clock) });
        expect(failed.tasks?.map((t) => t.status)).toEqual(['failed', 'assigned', 'assigned', 'canceled']);
        expect(failed.tasks?.[0]).toMatchObject({ error, finishedAt: iso(clock) });
        // Siblings already held may still finish or fail; the job keeps its first failure.
        clock += 50;
        await store.completeTask(ref(t2, w), { n: 2 });
        expect(await store.failTask(ref(t3, w), errorBody('INPUT_CORRUPT'), { retryDelayMs: 0 })).toBe('failed');
        expect(await store.getJob(job.id)).toMatchObject({ status: 'failed', error, finishedAt: iso(T0 + 50) });
        expect((await eventTypes(job.id)).filter((t) => t === 'job.failed')).toHaveLength(1);
      });
    });

    describe('artifacts, events, due times', () => {
      it('records artifacts, replacing one recorded again under the same name', async () => {
        const job = await store.createJob(newJob());
        const w = await worker();
        const c = await claimOne(w);
        const thumb = { name: 'thumb.jpg', key: `jobs/${job.id}/thumb.jpg`, size: 10, sha256: 'a'.repeat(64), contentType: 'image/jpeg' };
        expect(await store.recordArtifact(ref(c, w), thumb)).toEqual({ ...thumb, jobId: job.id, taskId: c.taskId, createdAt: iso(T0) });
        await store.recordArtifact(ref(c, w), { ...thumb, name: 'probe.json', contentType: 'application/json' });
        clock += 5;
        await store.recordArtifact(ref(c, w), { ...thumb, size: 20, sha256: 'b'.repeat(64) });
        expect((await store.listArtifacts(job.id)).map((a) => [a.name, a.size])).toEqual([
          ['probe.json', 10],
          ['thumb.jpg', 20],
        ]);
        expect(await store.getArtifact(job.id, 'thumb.jpg')).toMatchObject({ size: 20, sha256: 'b'.repeat(64), createdAt: iso(T0 + 5) });
        expect(await store.getArtifact(job.id, 'missing.jpg')).toBeNull();
        const added = (await store.listEvents(job.id)).filter((e) => e.type === 'artifact.added');
        expect(added.map((e) => [e.data.name, e.data.replaced])).toEqual([
          ['thumb.jpg', false],
          ['probe.json', false],
          ['thumb.jpg', true],
        ]);
      });

      it('appends events in order, per job, readable after an id', async () => {
        const job = await store.createJob(newJob());
        const other = await store.createJob(newJob({ kind: 'thumbnail' }));
        const w = await worker();
        const c = await claimOne(w);
        clock += 1;
        await store.reportProgress(ref(c, w), 0.5);
        await store.recordArtifact(ref(c, w), { name: 'x', key: 'k', size: 1, sha256: 's', contentType: 'text/plain' });
        await store.completeTask(ref(c, w), null);
        const events = await store.listEvents(job.id);
        expect(events.map((e) => e.type)).toEqual(['job.created', 'task.claimed', 'task.running', 'artifact.added', 'task.completed', 'job.completed']);
        expect(events.every((e, i) => i === 0 || e.id > (events[i - 1]?.id ?? Infinity))).toBe(true);
        expect(events[1]).toMatchObject({ jobId: job.id, taskId: c.taskId, data: { attempt: 1, workerId: w }, createdAt: iso(T0) });
        expect((await store.listEvents(job.id, events[2]?.id)).map((e) => e.type)).toEqual(['artifact.added', 'task.completed', 'job.completed']);
        expect((await store.listEvents(other.id)).map((e) => e.type)).toEqual(['job.created']);
      });

      it('nextDueAt gives the earliest due time of pending tasks of the kinds', async () => {
        expect(await store.nextDueAt(['probe'])).toBeNull();
        const w = await worker();
        await store.createJob(newJob());
        expect(await store.nextDueAt(['probe', 'thumbnail'])).toBe(T0);
        await store.failTask(ref(await claimOne(w), w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 60_000 });
        clock += 1000;
        await store.createJob(newJob({ kind: 'thumbnail' }));
        expect(await store.nextDueAt(['probe'])).toBe(T0 + 60_000);
        expect(await store.nextDueAt(['thumbnail', 'probe'])).toBe(T0 + 1000);
        await claimOne(w, ['thumbnail']);
        expect(await store.nextDueAt(['thumbnail'])).toBeNull();
        expect(await store.nextDueAt([])).toBeNull();
      });
    });
  });
}
