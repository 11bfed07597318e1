// Cancellation by a user: at once for tasks no worker started, through canceling for running
// ones (the worker is told, confirms, or the janitor forces it after the grace period).
import { describe, expect, it } from 'vitest';
import type { ClaimedTask } from '../../../src/protocol/index.js';
import { errorBody, expectCode, iso, LEASE, NOTHING, ref, T0, type Harness } from './harness.js';

export function cancelTests(h: Harness): void {
  describe('cancellation', () => {
    const hb = async (w: string, c: ClaimedTask) => (await h.store.heartbeat(w, [{ taskId: c.taskId, attempt: c.attempt }], LEASE))[0]?.state;

    it('cancels pending and assigned tasks at once; their worker loses them and nothing is claimed again', async () => {
      const job = await h.submit({ tasks: 3, maxAttempts: 3 });
      const w = await h.worker();
      const [held, retried] = (await h.claim(w, 2)) as [ClaimedTask, ClaimedTask];
      await h.store.failTask(ref(retried, w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 5000 }); // pending, in backoff
      h.clock += 100;
      const canceled = await h.store.cancelJob(job.id, 10_000);
      expect(canceled).toMatchObject({ id: job.id, status: 'canceled', finishedAt: iso(h.clock), updatedAt: iso(h.clock), error: null, result: null });
      expect(canceled.tasks?.map((t) => [t.status, t.finishedAt, t.leaseExpiresAt])).toEqual(Array.from({ length: 3 }, () => ['canceled', iso(h.clock), null]));
      expect(await h.store.getJob(job.id, { withTasks: true })).toEqual(canceled);

      expect(await hb(w, held)).toBe('lost');
      await expectCode(h.store.reportProgress(ref(held, w), 0.5), 'STALE_ATTEMPT');
      await expectCode(h.store.completeTask(ref(held, w), null), 'STALE_ATTEMPT');
      await expectCode(h.store.failTask(ref(held, w), errorBody('CANCELED'), { retryDelayMs: 0 }), 'STALE_ATTEMPT');
      h.clock += 3_600_000;
      expect(await h.claim(w, 10)).toEqual([]);
      expect(await h.store.nextDueAt(['probe'])).toBeNull();
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      expect(await h.eventTypes(job.id)).toEqual([
        'job.created', 'task.claimed', 'task.claimed', 'task.retrying', 'job.cancel_requested', 'task.canceled', 'task.canceled', 'task.canceled', 'job.canceled',
      ]);
    });

    it('a running task becomes canceling: told by heartbeat and progress, lease cut to the grace, canceled when the worker confirms', async () => {
      const job = await h.submit({ maxAttempts: 3 });
      const w = await h.worker();
      const c = await h.claimOne(w);
      await h.store.reportProgress(ref(c, w), 0.4);
      h.clock += 1_000;
      const canceling = await h.store.cancelJob(job.id, 5_000);
      expect(canceling).toMatchObject({ status: 'canceling', finishedAt: null, progress: 0.4 });
      expect(canceling.tasks).toMatchObject([{ status: 'canceling', attempt: 1, workerId: w, leaseExpiresAt: iso(T0 + 6_000), finishedAt: null }]);
      expect((await h.store.listJobs({ status: 'canceling', limit: 5 })).jobs.map((j) => j.id)).toEqual([job.id]);

      h.clock += 1_000;
      expect(await hb(w, c)).toBe('cancel');
      expect(await h.store.reportProgress(ref(c, w), 0.5)).toBe('cancel');
      expect((await h.task(job.id))?.leaseExpiresAt).toBe(iso(T0 + 6_000)); // neither renews it
      expect(await h.claim(w, 10)).toEqual([]);

      // Any error confirms, even a retryable one with attempts left: it is never retried.
      expect(await h.store.failTask(ref(c, w), errorBody('FFMPEG_FAILED', true), { retryDelayMs: 0 })).toBe('canceled');
      const done = await h.store.getJob(job.id, { withTasks: true });
      expect(done).toMatchObject({ status: 'canceled', finishedAt: iso(h.clock), error: null, result: null });
      expect(done?.tasks).toMatchObject([{ status: 'canceled', attempt: 1, error: null, leaseExpiresAt: null, finishedAt: iso(h.clock) }]);
      h.clock += 60_000;
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      expect(await h.claim(w, 10)).toEqual([]);
      expect(await h.eventTypes(job.id)).toEqual(['job.created', 'task.claimed', 'task.running', 'task.progress', 'job.cancel_requested', 'task.canceling', 'task.progress', 'task.canceled', 'job.canceled']);

      // Canceling a canceled job again changes nothing.
      const before = await h.snapshot(job.id);
      expect(await h.store.cancelJob(job.id, 0)).toEqual(before.job);
      expect(await h.snapshot(job.id)).toEqual(before);
    });

    it('the grace never lengthens a lease, and a second cancel can only shorten it', async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w); // lease until T0 + 30 s
      await h.store.reportProgress(ref(c, w), 0.1);
      const lease = async () => (await h.task(job.id))?.leaseExpiresAt;
      await h.store.cancelJob(job.id, 60_000);
      expect(await lease()).toBe(iso(T0 + LEASE));
      h.clock += 10_000;
      expect((await h.store.cancelJob(job.id, 5_000)).status).toBe('canceling');
      expect(await lease()).toBe(iso(T0 + 15_000));
      await h.store.cancelJob(job.id, 60_000);
      expect(await lease()).toBe(iso(T0 + 15_000));
      expect((await h.eventTypes(job.id)).filter((t) => t === 'task.canceling')).toHaveLength(1);
      await expectCode(h.store.cancelJob(job.id, -1), 'VALIDATION_FAILED');
    });

    it('the janitor cancels a canceling task whose worker never confirms, when the grace runs out', async () => {
      const job = await h.submit({ maxAttempts: 5 });
      const w = await h.worker();
      const c = await h.claimOne(w);
      await h.store.reportProgress(ref(c, w), 0.1);
      await h.store.cancelJob(job.id, 2_000);
      h.clock += 1_999;
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      h.clock += 1;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 0, canceled: 1 });
      expect(await h.store.getJob(job.id, { withTasks: true })).toMatchObject({
        status: 'canceled',
        finishedAt: iso(h.clock),
        tasks: [{ status: 'canceled', attempt: 1, error: null, finishedAt: iso(h.clock) }],
      });
      expect(await hb(w, c)).toBe('lost');
      await expectCode(h.store.failTask(ref(c, w), errorBody('CANCELED'), { retryDelayMs: 0 }), 'STALE_ATTEMPT');
      await expectCode(h.store.completeTask(ref(c, w), null), 'STALE_ATTEMPT');
      expect(await h.claim(w, 10)).toEqual([]);
      expect((await h.eventTypes(job.id)).slice(-3)).toEqual(['task.lease_expired', 'task.canceled', 'job.canceled']);
    });

    it('a canceling task that passes its run deadline is canceled, not retried', async () => {
      const job = await h.submit({ maxAttempts: 5, maxRunMs: 10_000 });
      const w = await h.worker();
      const c = await h.claimOne(w);
      await h.store.reportProgress(ref(c, w), 0.1);
      h.clock += 5_000;
      await h.store.cancelJob(job.id, 60_000); // the lease (T0 + 30 s) stays; the deadline is T0 + 10 s
      h.clock = T0 + 10_000;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 0, canceled: 1 });
      expect((await h.eventTypes(job.id)).slice(-3)).toEqual(['task.timed_out', 'task.canceled', 'job.canceled']);
      expect(await h.claim(w, 10)).toEqual([]);
    });

    it('work that completes while canceling is kept: the task completes, and a job with nothing canceled completes', async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      await h.store.reportProgress(ref(c, w), 0.9);
      await h.store.recordArtifact(ref(c, w), { name: 'thumb.jpg', key: 'k/thumb.jpg', size: 3, sha256: 's', contentType: 'image/jpeg' });
      await h.store.cancelJob(job.id, 5_000);
      h.clock += 1_000;
      await h.store.completeTask(ref(c, w), { frames: 10 });
      expect(await h.store.getJob(job.id, { withTasks: true })).toMatchObject({
        status: 'completed',
        result: { frames: 10 },
        finishedAt: iso(h.clock),
        tasks: [{ status: 'completed', result: { frames: 10 }, leaseExpiresAt: null }],
      });
      expect((await h.store.listArtifacts(job.id)).map((a) => a.name)).toEqual(['thumb.jpg']);
      const events = await h.store.listEvents(job.id);
      expect(events.slice(-2).map((e) => e.type)).toEqual(['task.completed', 'job.completed']);
      expect(events.at(-2)?.data).toMatchObject({ attempt: 1, workerId: w, whileCanceling: true });
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
    });

    it('a job with finished, running and waiting tasks: finished ones stay, the job ends canceled', async () => {
      const job = await h.submit({ tasks: 4 });
      const w = await h.worker();
      const [t1, t2, t3] = (await h.claim(w, 3)) as [ClaimedTask, ClaimedTask, ClaimedTask];
      await h.store.completeTask(ref(t1, w), { n: 1 });
      await h.store.reportProgress(ref(t2, w), 0.5);
      await h.store.reportProgress(ref(t3, w), 0.5);
      const canceling = await h.store.cancelJob(job.id, 5_000);
      expect(canceling.status).toBe('canceling');
      expect(canceling.tasks?.map((t) => t.status)).toEqual(['completed', 'canceling', 'canceling', 'canceled']);
      await h.store.completeTask(ref(t2, w), { n: 2 }); // finished before it heard of the cancel
      expect((await h.store.getJob(job.id))?.status).toBe('canceling');
      expect(await h.store.failTask(ref(t3, w), errorBody('CANCELED'), { retryDelayMs: 0 })).toBe('canceled');
      const done = await h.store.getJob(job.id, { withTasks: true });
      expect(done).toMatchObject({ status: 'canceled', result: null, error: null, finishedAt: iso(h.clock) });
      expect(done?.tasks?.map((t) => t.status)).toEqual(['completed', 'completed', 'canceled', 'canceled']);
      expect((await h.eventTypes(job.id)).filter((t) => t.startsWith('job.'))).toEqual(['job.created', 'job.cancel_requested', 'job.canceled']);
    });

    it('a finished job is answered unchanged; an unknown job is JOB_NOT_FOUND', async () => {
      const w = await h.worker();
      const completed = await h.submit();
      await h.store.completeTask(ref(await h.claimOne(w), w), { ok: true });
      const failed = await h.submit();
      await h.store.failTask(ref(await h.claimOne(w), w), errorBody('NOT_A_VIDEO'), { retryDelayMs: 0 });
      h.clock += 1000;
      for (const job of [completed, failed]) {
        const before = await h.snapshot(job.id);
        expect(await h.store.cancelJob(job.id, 0)).toEqual(before.job);
        expect(await h.snapshot(job.id)).toEqual(before);
      }
      await expectCode(h.store.cancelJob('job_doesnotexist0000000000', 0), 'JOB_NOT_FOUND');
    });
  });
}
