// Leases, fencing, run deadlines and the janitor.
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, type ClaimedTask } from '../../../src/protocol/index.js';
import type { Store } from '../../../src/store/store.js';
import { errorBody, expectCode, iso, LEASE, NOTHING, ref, sumRequeues, T0, type Harness } from './harness.js';

export function leaseTests(h: Harness): void {
  describe('leases and fencing', () => {
    it('heartbeat renews held attempts and answers lost for the rest', async () => {
      const job = await h.submit();
      const a = await h.worker(h.store, 'a');
      const b = await h.worker(h.store, 'b');
      const c = await h.claimOne(a);
      h.clock += 20_000;
      const answer = await h.store.heartbeat(a, [{ taskId: c.taskId, attempt: 1 }, { taskId: c.taskId, attempt: 2 }, { taskId: 'task_nope', attempt: 1 }], LEASE);
      expect(answer.map((x) => x.state)).toEqual(['ok', 'lost', 'lost']);
      expect((await h.store.heartbeat(b, [{ taskId: c.taskId, attempt: 1 }], LEASE))[0]?.state).toBe('lost');
      expect((await h.task(job.id))?.leaseExpiresAt).toBe(iso(T0 + 20_000 + LEASE));
      expect((await h.store.getWorker(a))?.lastHeartbeatAt).toBe(iso(T0 + 20_000));
      h.clock = T0 + LEASE + 10_000; // past the first lease, inside the renewed one
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      await expectCode(h.store.heartbeat('wkr_unknown', [], LEASE), 'WORKER_NOT_FOUND');
    });

    it('refuses every write of an attempt that expired and was claimed again, changing nothing', async () => {
      const job = await h.submit();
      const a = await h.worker(h.store, 'a');
      const b = await h.worker(h.store, 'b');
      const first = await h.claimOne(a);
      await h.store.reportProgress(ref(first, a), 0.3);
      await h.store.recordArtifact(ref(first, a), { name: 'a.txt', key: 'jobs/x/a.txt', size: 1, sha256: 'aa', contentType: 'text/plain' });
      h.clock += LEASE;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0, canceled: 0 });
      const second = await h.claimOne(b);
      expect(second.attempt).toBe(2);
      const before = await h.snapshot(job.id);
      const art = { name: 'a.txt', key: 'jobs/x/other', size: 9, sha256: 'bb', contentType: 'text/plain' };
      for (const stale of [ref(first, a), ref(first, a, 2), ref(second, a)]) {
        await expectCode(h.store.reportProgress(stale, 0.9), 'STALE_ATTEMPT');
        await expectCode(h.store.recordArtifact(stale, art), 'STALE_ATTEMPT');
        await expectCode(h.store.recordArtifact(stale, { ...art, name: 'new.txt' }), 'STALE_ATTEMPT');
        await expectCode(h.store.completeTask(stale, { bogus: true }), 'STALE_ATTEMPT');
        await expectCode(h.store.failTask(stale, errorBody('NOT_A_VIDEO'), { retryDelayMs: 0 }), 'STALE_ATTEMPT');
        await expectCode(h.store.assertAttempt(stale), 'STALE_ATTEMPT');
      }
      expect(await h.snapshot(job.id)).toEqual(before);
      expect((await h.store.heartbeat(a, [{ taskId: first.taskId, attempt: 1 }], LEASE))[0]?.state).toBe('lost');
      expect(await h.store.assertAttempt(ref(second, b))).toEqual({ jobId: job.id });
      await h.store.completeTask(ref(second, b), { ok: 2 });
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'completed', result: { ok: 2 } });
    });

    it('refuses writes for unknown tasks and for attempts already finished', async () => {
      await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      const ghost = { taskId: 'task_nope', attempt: 1, workerId: w };
      await expectCode(h.store.reportProgress(ghost, 0.5), 'TASK_NOT_FOUND');
      await expectCode(h.store.completeTask(ghost, null), 'TASK_NOT_FOUND');
      await expectCode(h.store.assertAttempt(ghost), 'TASK_NOT_FOUND');
      await h.store.completeTask(ref(c, w), { done: true });
      await expectCode(h.store.completeTask(ref(c, w), { again: true }), 'STALE_ATTEMPT');
      await expectCode(h.store.reportProgress(ref(c, w), 0.1), 'STALE_ATTEMPT');
      await expectCode(h.store.failTask(ref(c, w), errorBody('INTERNAL'), { retryDelayMs: 0 }), 'STALE_ATTEMPT');
    });

    it('requeues an expired lease, then fails with WORKER_LOST when attempts run out', async () => {
      const job = await h.submit({ maxAttempts: 2 });
      const w = await h.worker();
      await h.claimOne(w, ['probe'], 1000);
      h.clock += 999;
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      h.clock += 1;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0, canceled: 0 });
      expect(await h.task(job.id)).toMatchObject({ status: 'pending', attempt: 1, leaseExpiresAt: null, runAfter: iso(h.clock), error: { code: 'WORKER_LOST' } });
      expect((await h.store.getJob(job.id))?.status).toBe('pending');
      expect((await h.claimOne(w, ['probe'], 1000)).attempt).toBe(2);
      h.clock += 1000;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 1, canceled: 0 });
      const { hint, retryable } = ERROR_CATALOG.WORKER_LOST;
      expect(await h.task(job.id)).toMatchObject({ status: 'failed', attempt: 2, finishedAt: iso(h.clock), error: { code: 'WORKER_LOST', hint, retryable } });
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'failed', finishedAt: iso(h.clock), error: { code: 'WORKER_LOST' } });
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      expect(await h.eventTypes(job.id)).toEqual(['job.created', 'task.claimed', 'task.lease_expired', 'task.claimed', 'task.lease_expired', 'task.failed', 'job.failed']);
    });

    it('never requeues a task completed after its lease ran out but before the janitor came', async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w, ['probe'], 1000);
      h.clock += 5000;
      await h.store.reportProgress(ref(c, w), 0.5);
      await h.store.completeTask(ref(c, w), { late: true });
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'completed', result: { late: true } });
    });

    it('janitors on several connections at once take back each expired attempt exactly once, skipping no attempt', async () => {
      const stores: Store[] = [h.store, await h.open(h.store), await h.open(h.store), await h.open(h.store)];
      const jobs = [];
      for (let i = 0; i < 20; i++) jobs.push(await h.submit({ tasks: 5, maxAttempts: 3 }));
      const w = await h.worker();
      for (let round = 1; round <= 3; round++) {
        const claimed = await h.claim(w, 1000, ['probe'], 1000);
        expect(claimed).toHaveLength(100);
        expect(claimed.every((c) => c.attempt === round)).toBe(true);
        h.clock += 1000;
        const passes = await Promise.all(stores.flatMap((s) => [s.requeueExpiredLeases(), s.requeueExpiredLeases()]));
        expect(sumRequeues(passes)).toEqual(round < 3 ? { requeued: 100, failed: 0, canceled: 0 } : { requeued: 0, failed: 100, canceled: 0 });
      }
      for (const job of jobs) {
        const done = await h.store.getJob(job.id, { withTasks: true });
        expect(done?.status).toBe('failed');
        expect(done?.tasks?.map((t) => [t.status, t.attempt])).toEqual(Array.from({ length: 5 }, () => ['failed', 3]));
        const events = await h.store.listEvents(job.id);
        for (const t of done?.tasks ?? []) {
          const attemptsOf = (type: string) => events.filter((e) => e.taskId === t.id && e.type === type).map((e) => e.data.attempt);
          expect(attemptsOf('task.claimed')).toEqual([1, 2, 3]);
          expect(attemptsOf('task.lease_expired')).toEqual([1, 2, 3]);
          expect(attemptsOf('task.failed')).toEqual([3]);
        }
      }
    });
  });
}

export function runDeadlineTests(h: Harness): void {
  describe('run deadlines', () => {
    /** Heartbeats every 20 s from now until `until` (exclusive), all answered ok. */
    async function keepAlive(w: string, c: ClaimedTask, until: number): Promise<void> {
      while (h.clock + 20_000 < until) {
        h.clock += 20_000;
        expect((await h.store.heartbeat(w, [{ taskId: c.taskId, attempt: c.attempt }], LEASE))[0]?.state).toBe('ok');
      }
      h.clock = until;
    }

    it('an attempt past maxRunMs is taken back although it heartbeats: TASK_TIMEOUT, retried, then failed', async () => {
      const job = await h.submit({ maxAttempts: 2, maxRunMs: 60_000 });
      const w = await h.worker();
      const first = await h.claimOne(w);
      await h.store.reportProgress(ref(first, w), 0.1);
      await keepAlive(w, first, T0 + 59_999);
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      h.clock = T0 + 60_000;
      expect((await h.task(job.id))?.leaseExpiresAt).toBe(iso(T0 + 40_000 + LEASE)); // renewed past the deadline
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0, canceled: 0 });
      const { hint, retryable } = ERROR_CATALOG.TASK_TIMEOUT;
      expect(await h.task(job.id)).toMatchObject({
        status: 'pending',
        attempt: 1,
        leaseExpiresAt: null,
        runAfter: iso(T0 + 60_000),
        error: { code: 'TASK_TIMEOUT', hint, retryable, details: { maxRunMs: 60_000, attempt: 1, workerId: w } },
      });
      expect((await h.store.heartbeat(w, [{ taskId: first.taskId, attempt: 1 }], LEASE))[0]?.state).toBe('lost');
      await expectCode(h.store.completeTask(ref(first, w), null), 'STALE_ATTEMPT');

      // The next attempt's deadline counts from its own claim.
      h.clock += 5_000;
      const second = await h.claimOne(w);
      expect(second.attempt).toBe(2);
      await keepAlive(w, second, T0 + 65_000 + 59_999);
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      h.clock += 1;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 1, canceled: 0 });
      expect(await h.task(job.id)).toMatchObject({ status: 'failed', attempt: 2, finishedAt: iso(h.clock), error: { code: 'TASK_TIMEOUT' } });
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'failed', error: { code: 'TASK_TIMEOUT' } });
      expect((await h.eventTypes(job.id)).filter((t) => t !== 'task.running' && t !== 'task.progress')).toEqual([
        'job.created', 'task.claimed', 'task.timed_out', 'task.claimed', 'task.timed_out', 'task.failed', 'job.failed',
      ]);
    });

    it('whichever ran out first names the cause: the lease (WORKER_LOST) or the run time (TASK_TIMEOUT)', async () => {
      const job = await h.submit({ maxAttempts: 4, maxRunMs: 60_000 });
      const w = await h.worker();
      const cause = async () => (await h.task(job.id))?.error?.code;
      // Lease 30 s, no heartbeat: the lease runs out first.
      await h.claimOne(w, ['probe'], 30_000);
      h.clock += 30_000;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0, canceled: 0 });
      expect(await cause()).toBe('WORKER_LOST');
      // Lease 120 s: the run time runs out first.
      await h.claimOne(w, ['probe'], 120_000);
      h.clock += 60_000;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0, canceled: 0 });
      expect(await cause()).toBe('TASK_TIMEOUT');
      // Both long past when the janitor comes: the earlier one, here the lease.
      await h.claimOne(w, ['probe'], 10_000);
      h.clock += 500_000;
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0, canceled: 0 });
      expect(await cause()).toBe('WORKER_LOST');
    });

    it('a task completed after its deadline but before the janitor came stays completed', async () => {
      const job = await h.submit({ maxRunMs: 1000 });
      const w = await h.worker();
      const c = await h.claimOne(w);
      h.clock += 5000;
      await h.store.completeTask(ref(c, w), { late: true });
      expect(await h.store.requeueExpiredLeases()).toEqual(NOTHING);
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'completed', result: { late: true } });
    });
  });
}
