// Progress, completion, failure and retries; artifacts, events and due times.
import { describe, expect, it } from 'vitest';
import type { ClaimedTask, Job } from '../../../src/protocol/index.js';
import { errorBody, iso, LEASE, NOTHING, ref, T0, type Harness } from './harness.js';

export function lifecycleTests(h: Harness): void {
  describe('progress, completion and failure', () => {
    it('progress moves assigned to running, clamps to 0..1 and feeds the job progress', async () => {
      const job = await h.submit({ tasks: 2 });
      const w = await h.worker();
      const c = await h.claimOne(w);
      h.clock += 100;
      expect(await h.store.reportProgress(ref(c, w), 0.5)).toBe('ok');
      expect(await h.task(job.id)).toMatchObject({ status: 'running', progress: 0.5, startedAt: iso(T0 + 100) });
      expect((await h.store.getJob(job.id))?.progress).toBeCloseTo(0.25);
      await h.store.reportProgress(ref(c, w), 7);
      expect((await h.task(job.id))?.progress).toBe(1);
      await h.store.reportProgress(ref(c, w), -3);
      expect((await h.task(job.id))?.progress).toBe(0);
      expect((await h.eventTypes(job.id)).filter((t) => t === 'task.running')).toHaveLength(1);
    });

    it('derives the job status, progress and result from its tasks', async () => {
      const job = await h.submit({ tasks: 3 });
      const w = await h.worker();
      const [t1, t2, t3] = (await h.claim(w, 3)) as [ClaimedTask, ClaimedTask, ClaimedTask];
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'running', progress: 0 });
      await h.store.completeTask(ref(t1, w), { n: 1 });
      h.clock += 10;
      await h.store.completeTask(ref(t3, w), { n: 3 });
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'running', result: null, finishedAt: null });
      expect((await h.store.getJob(job.id))?.progress).toBeCloseTo(2 / 3);
      h.clock += 10;
      await h.store.completeTask(ref(t2, w), { n: 2 });
      // The job's result is that of the task that completed last.
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'completed', progress: 1, result: { n: 2 }, error: null, finishedAt: iso(h.clock) });
      expect((await h.eventTypes(job.id)).filter((t) => t === 'job.completed')).toHaveLength(1);
    });

    it('a job whose first task is done and next one waits is running', async () => {
      const job = await h.submit({ tasks: 2 });
      const w = await h.worker();
      await h.store.completeTask(ref(await h.claimOne(w), w), null);
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'running', progress: 0.5 });
    });

    it('a retryable failure waits for its backoff, then hands resumeData to the next attempt', async () => {
      const job = await h.submit({ maxAttempts: 3 });
      const w = await h.worker();
      const first = await h.claimOne(w);
      const status = await h.store.failTask(ref(first, w), errorBody('FFMPEG_FAILED', true), { resumeData: { done: [1, 2] }, retryDelayMs: 5000 });
      expect(status).toBe('pending');
      expect(await h.task(job.id)).toMatchObject({ status: 'pending', attempt: 1, runAfter: iso(T0 + 5000), error: { code: 'FFMPEG_FAILED' } });
      expect((await h.store.getJob(job.id))?.status).toBe('pending');
      expect(await h.store.nextDueAt(['probe'])).toBe(T0 + 5000);
      expect(await h.claim(w, 1)).toEqual([]);
      h.clock += 4999;
      expect(await h.claim(w, 1)).toEqual([]);
      h.clock += 1;
      const second = await h.claimOne(w);
      expect(second).toMatchObject({ attempt: 2, resumeData: { done: [1, 2] } });
      // Failing without new resume data keeps what the earlier attempt left.
      expect(await h.store.failTask(ref(second, w), errorBody('INPUT_UNREADABLE'), { retryDelayMs: 0 })).toBe('pending');
      expect(await h.claimOne(w)).toMatchObject({ attempt: 3, resumeData: { done: [1, 2] } });
      expect((await h.eventTypes(job.id)).filter((t) => t === 'task.retrying')).toHaveLength(2);
    });

    it('keeps the latest progress detail (fps, speed, ETA) while the task runs, none once it ends', async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      await h.store.reportProgress(ref(c, w), 0.2, { detail: { fps: 48, speed: 1.9, etaSeconds: 42, message: 'encoding' } });
      expect(await h.task(job.id)).toMatchObject({ status: 'running', progress: 0.2, progressDetail: { fps: 48, speed: 1.9, etaSeconds: 42, message: 'encoding' } });
      await h.store.reportProgress(ref(c, w), 0.5); // no detail: the last one stays
      expect((await h.task(job.id))?.progressDetail).toMatchObject({ etaSeconds: 42 });
      await h.store.completeTask(ref(c, w), null);
      expect((await h.task(job.id))?.progressDetail).toBeNull();
    });

    it('a checkpoint sent with progress reaches the next attempt even when the worker vanishes', async () => {
      await h.submit({ maxAttempts: 3 });
      const w = await h.worker();
      const first = await h.claimOne(w);
      expect(await h.store.reportProgress(ref(first, w), 0.3, { resumeData: { shots: [0, 1] } })).toBe('ok');
      // Progress without a checkpoint keeps the last one.
      expect(await h.store.reportProgress(ref(first, w), 0.4)).toBe('ok');
      h.clock += LEASE + 1;
      expect((await h.store.requeueExpiredLeases()).requeued).toBe(1);
      expect(await h.claimOne(w)).toMatchObject({ attempt: 2, resumeData: { shots: [0, 1] } });
    });

    it('a retryable failure on the last attempt fails the task and the job', async () => {
      const job = await h.submit({ maxAttempts: 2 });
      const w = await h.worker();
      expect(await h.store.failTask(ref(await h.claimOne(w), w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 0 })).toBe('pending');
      expect(await h.store.failTask(ref(await h.claimOne(w), w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 0 })).toBe('failed');
      expect(await h.task(job.id)).toMatchObject({ status: 'failed', attempt: 2, error: { code: 'FFMPEG_FAILED' } });
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'failed', error: { code: 'FFMPEG_FAILED' } });
      expect(await h.claim(w, 1)).toEqual([]);
    });

    it('a task handed back by a draining worker does not spend an attempt, even its last', async () => {
      const job = await h.submit({ maxAttempts: 1 });
      const w = await h.worker();
      const first = await h.claimOne(w);
      expect(await h.store.failTask(ref(first, w), errorBody('WORKER_SHUTDOWN'), { retryDelayMs: 0 })).toBe('pending');
      expect(await h.task(job.id)).toMatchObject({ status: 'pending', attempt: 1, maxAttempts: 2 });
      const events = await h.store.listEvents(job.id);
      expect(events.at(-1)).toMatchObject({ type: 'task.retrying', data: { handedBack: true } });
      // The budget for real failures is unchanged: this one is final.
      expect(await h.store.failTask(ref(await h.claimOne(w), w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 0 })).toBe('failed');
    });

    it('a permanent failure fails the job at once and cancels its waiting tasks', async () => {
      const job = await h.submit({ tasks: 4 });
      const w = await h.worker();
      const [t1, t2, t3] = (await h.claim(w, 3)) as [ClaimedTask, ClaimedTask, ClaimedTask];
      h.clock += 50;
      const error = errorBody('NOT_A_VIDEO');
      expect(await h.store.failTask(ref(t1, w), error, { retryDelayMs: 1000 })).toBe('failed');
      const failed = (await h.store.getJob(job.id, { withTasks: true })) as Job;
      expect(failed).toMatchObject({ status: 'failed', error, finishedAt: iso(h.clock) });
      expect(failed.tasks?.map((t) => t.status)).toEqual(['failed', 'assigned', 'assigned', 'canceled']);
      expect(failed.tasks?.[0]).toMatchObject({ error, finishedAt: iso(h.clock) });
      // Siblings already held may still finish or fail; the job keeps its first failure.
      h.clock += 50;
      await h.store.completeTask(ref(t2, w), { n: 2 });
      expect(await h.store.failTask(ref(t3, w), errorBody('INPUT_CORRUPT'), { retryDelayMs: 0 })).toBe('failed');
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'failed', error, finishedAt: iso(T0 + 50) });
      expect((await h.eventTypes(job.id)).filter((t) => t === 'job.failed')).toHaveLength(1);
    });

    it('a held sibling of a failed job is never retried, by its own failure or by the janitor', async () => {
      const job = await h.submit({ tasks: 3, maxAttempts: 5 });
      const w = await h.worker();
      const [t1, t2] = (await h.claim(w, 3)) as [ClaimedTask, ClaimedTask, ClaimedTask];
      const error = errorBody('NOT_A_VIDEO');
      expect(await h.store.failTask(ref(t1, w), error, { retryDelayMs: 0 })).toBe('failed');
      expect(await h.store.failTask(ref(t2, w), errorBody('FFMPEG_FAILED', true), { retryDelayMs: 0 })).toBe('failed');
      h.clock += LEASE; // the third one's worker went quiet
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 1, canceled: 0 });
      expect((await h.store.getJob(job.id, { withTasks: true }))?.tasks?.map((t) => [t.status, t.attempt, t.error?.code])).toEqual([
        ['failed', 1, 'NOT_A_VIDEO'],
        ['failed', 1, 'FFMPEG_FAILED'],
        ['failed', 1, 'WORKER_LOST'],
      ]);
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'failed', error });
      expect(await h.claim(w, 10)).toEqual([]);
      expect(await h.store.nextDueAt(['probe'])).toBeNull();
    });

    it('when the janitor fails one task for good, it does not requeue a sibling in the same pass', async () => {
      const job = await h.submit({ tasks: 2, maxAttempts: 2 });
      const w = await h.worker();
      const [first] = (await h.claim(w, 1)) as [ClaimedTask];
      await h.store.failTask(ref(first, w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 0 });
      // The first task is now on its last attempt, the second on its first; both go quiet, the
      // first one's lease running out first.
      expect((await h.claimOne(w)).attempt).toBe(2);
      h.clock += 1;
      expect((await h.claimOne(w)).attempt).toBe(1);
      h.clock += LEASE;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 2, canceled: 0 });
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'failed', error: { code: 'WORKER_LOST' } });
      expect(await h.claim(w, 10)).toEqual([]);
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
    });
  });
}

export function artifactEventTests(h: Harness): void {
  describe('artifacts, events, due times', () => {
    it('records artifacts, replacing one recorded again under the same name', async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      const thumb = { name: 'thumb.jpg', key: `jobs/${job.id}/thumb.jpg`, size: 10, sha256: 'a'.repeat(64), contentType: 'image/jpeg' };
      expect(await h.store.recordArtifact(ref(c, w), thumb)).toEqual({ ...thumb, jobId: job.id, taskId: c.taskId, createdAt: iso(T0) });
      await h.store.recordArtifact(ref(c, w), { ...thumb, name: 'probe.json', contentType: 'application/json' });
      h.clock += 5;
      await h.store.recordArtifact(ref(c, w), { ...thumb, size: 20, sha256: 'b'.repeat(64) });
      expect((await h.store.listArtifacts(job.id)).map((a) => [a.name, a.size])).toEqual([
        ['probe.json', 10],
        ['thumb.jpg', 20],
      ]);
      expect(await h.store.getArtifact(job.id, 'thumb.jpg')).toMatchObject({ size: 20, sha256: 'b'.repeat(64), createdAt: iso(T0 + 5) });
      expect(await h.store.getArtifact(job.id, 'missing.jpg')).toBeNull();
      const added = (await h.store.listEvents(job.id)).filter((e) => e.type === 'artifact.added');
      expect(added.map((e) => [e.data.name, e.data.replaced])).toEqual([
        ['thumb.jpg', false],
        ['probe.json', false],
        ['thumb.jpg', true],
      ]);
    });

    it('appends events in order, per job, readable after an id', async () => {
      const job = await h.submit();
      const other = await h.submit({ kind: 'thumbnail' });
      const w = await h.worker();
      const c = await h.claimOne(w);
      h.clock += 1;
      await h.store.reportProgress(ref(c, w), 0.5);
      await h.store.recordArtifact(ref(c, w), { name: 'x', key: 'k', size: 1, sha256: 's', contentType: 'text/plain' });
      await h.store.completeTask(ref(c, w), null);
      const events = await h.store.listEvents(job.id);
      expect(events.map((e) => e.type)).toEqual(['job.created', 'task.claimed', 'task.running', 'task.progress', 'artifact.added', 'task.completed', 'job.completed']);
      expect(events.every((e, i) => i === 0 || e.id > (events[i - 1]?.id ?? Infinity))).toBe(true);
      expect(events[1]).toMatchObject({ jobId: job.id, taskId: c.taskId, data: { attempt: 1, workerId: w }, createdAt: iso(T0) });
      expect(events[3]).toMatchObject({ taskId: c.taskId, data: { attempt: 1, progress: 0.5 } });
      expect((await h.store.listEvents(job.id, events[3]?.id)).map((e) => e.type)).toEqual(['artifact.added', 'task.completed', 'job.completed']);
      expect((await h.store.listEvents(other.id)).map((e) => e.type)).toEqual(['job.created']);
    });

    it('nextDueAt gives the earliest due time of pending tasks of the kinds', async () => {
      expect(await h.store.nextDueAt(['probe'])).toBeNull();
      const w = await h.worker();
      await h.submit();
      expect(await h.store.nextDueAt(['probe', 'thumbnail'])).toBe(T0);
      await h.store.failTask(ref(await h.claimOne(w), w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 60_000 });
      h.clock += 1000;
      await h.submit({ kind: 'thumbnail' });
      expect(await h.store.nextDueAt(['probe'])).toBe(T0 + 60_000);
      expect(await h.store.nextDueAt(['thumbnail', 'probe'])).toBe(T0 + 1000);
      await h.claimOne(w, ['thumbnail']);
      expect(await h.store.nextDueAt(['thumbnail'])).toBeNull();
      expect(await h.store.nextDueAt([])).toBeNull();
    });
  });
}
