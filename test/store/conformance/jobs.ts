// Schema, job creation and listing; idempotent submission.
import { describe, expect, it } from 'vitest';
import type { Store } from '../../../src/store/store.js';
import { expectCode, idem, iso, newJob, T0, type Harness } from './harness.js';

export function jobTests(h: Harness): void {
  describe('schema and jobs', () => {
    it('migrate is harmless to repeat, also from a second connection', async () => {
      const job = await h.submit();
      await h.store.migrate();
      const other = await h.open(h.store);
      await other.migrate();
      expect((await other.getJob(job.id))?.id).toBe(job.id);
      expect((await h.store.createJob(newJob())).job.status).toBe('pending');
    });

    it('creates a pending job with pending tasks and reads it back', async () => {
      const { job, created } = await h.store.createJob(newJob({ tasks: 2, priority: 7 }));
      expect(created).toBe(true);
      expect(job).toMatchObject({ kind: 'probe', input: 'store://uploads/clip.mp4', params: { p: 1 }, priority: 7, status: 'pending', progress: 0 });
      expect(job).toMatchObject({ error: null, result: null, createdAt: iso(T0), updatedAt: iso(T0), finishedAt: null });
      expect(job.tasks?.map((t) => [t.status, t.attempt, t.maxAttempts, t.workerId, t.jobId, t.leaseExpiresAt])).toEqual([
        ['pending', 0, 3, null, job.id, null],
        ['pending', 0, 3, null, job.id, null],
      ]);
      const plain = await h.store.getJob(job.id);
      expect(plain?.tasks).toBeUndefined();
      expect({ ...plain, tasks: job.tasks }).toEqual(job);
      expect(await h.store.getJob(job.id, { withTasks: true })).toEqual(job);
      expect(await h.store.getJob('job_doesnotexist0000000000')).toBeNull();
      expect(await h.eventTypes(job.id)).toEqual(['job.created']);
    });

    it('refuses a job without tasks, attempts or run time, and creates nothing', async () => {
      const bad = newJob();
      const task = bad.tasks[0];
      if (!task) throw new Error('newJob gave no task');
      await expectCode(h.store.createJob({ ...bad, tasks: [] }), 'VALIDATION_FAILED');
      for (const patch of [{ maxAttempts: 0 }, { maxAttempts: 1.5 }, { maxRunMs: 0 }, { maxRunMs: -5 }, { maxRunMs: Number.NaN }, { maxRunMs: Infinity }]) {
        await expectCode(h.store.createJob({ ...bad, tasks: [{ ...task, ...patch }] }), 'VALIDATION_FAILED');
      }
      await expectCode(h.store.createJob({ ...bad, priority: 0.5 }), 'VALIDATION_FAILED');
      expect((await h.store.listJobs({ limit: 10 })).jobs).toEqual([]);
    });

    it('lists newest first, filters by status and kind, and pages with a cursor', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        ids.push((await h.submit({ kind: i % 2 === 0 ? 'probe' : 'thumbnail' })).id);
        h.clock += 1000;
      }
      const newestFirst = [...ids].reverse();
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await h.store.listJobs({ limit: 3, cursor });
        pages.push(page.jobs.map((j) => j.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(newestFirst);

      expect((await h.store.listJobs({ limit: 7 })).nextCursor).toBeNull();
      const thumbs1 = await h.store.listJobs({ kind: 'thumbnail', limit: 2 });
      const thumbs2 = await h.store.listJobs({ kind: 'thumbnail', limit: 2, cursor: thumbs1.nextCursor ?? undefined });
      expect([...thumbs1.jobs, ...thumbs2.jobs].map((j) => j.id)).toEqual([ids[5], ids[3], ids[1]]);
      expect(thumbs2.nextCursor).toBeNull();

      await h.claimOne(await h.worker(), ['thumbnail']); // the oldest thumbnail job starts running
      expect((await h.store.listJobs({ status: 'running', limit: 10 })).jobs.map((j) => j.id)).toEqual([ids[1]]);
      const pendingProbes = await h.store.listJobs({ status: 'pending', kind: 'probe', limit: 10 });
      expect(pendingProbes.jobs.map((j) => j.id)).toEqual([ids[6], ids[4], ids[2], ids[0]]);
      await expectCode(h.store.listJobs({ limit: 3, cursor: 'not a cursor' }), 'VALIDATION_FAILED');
    });
  });
}

export function idempotencyTests(h: Harness): void {
  describe('idempotent submission', () => {
    it('the same key and request within the TTL answer the first job as it is now, creating nothing', async () => {
      const first = await h.store.createJob(newJob(), { idempotency: idem() });
      expect(first.created).toBe(true);
      await h.claimOne(await h.worker());
      h.clock += 59_999;
      const again = await h.store.createJob(newJob(), { idempotency: idem() });
      expect(again.created).toBe(false);
      expect(again.job).toEqual(await h.store.getJob(first.job.id, { withTasks: true }));
      expect(again.job.status).toBe('running');
      expect((await h.store.listJobs({ limit: 10 })).jobs.map((j) => j.id)).toEqual([first.job.id]);
      expect(await h.eventTypes(first.job.id)).toEqual(['job.created', 'task.claimed']);
    });

    it('the same key with a different request is a conflict naming the key', async () => {
      const first = await h.store.createJob(newJob(), { idempotency: idem() });
      const err: unknown = await h.store.createJob(newJob({ priority: 3 }), { idempotency: idem({ requestHash: 'hash-2' }) }).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'VidfleetError', code: 'IDEMPOTENCY_CONFLICT', status: 409, retryable: false, details: { key: 'key-1', jobId: first.job.id } });
      expect((err as Error).message).toContain('"key-1"');
      expect((err as Error).message).toContain('different request');
      expect((await h.store.listJobs({ limit: 10 })).jobs.map((j) => j.id)).toEqual([first.job.id]);
    });

    it('keys are scoped per owner', async () => {
      const alice = await h.store.createJob(newJob(), { idempotency: idem() });
      const bob = await h.store.createJob(newJob(), { idempotency: idem({ owner: 'bob', requestHash: 'other' }) });
      const alice2 = await h.store.createJob(newJob(), { idempotency: idem({ key: 'key-2' }) });
      expect([alice.created, bob.created, alice2.created]).toEqual([true, true, true]);
      expect(new Set([alice.job.id, bob.job.id, alice2.job.id]).size).toBe(3);
      expect((await h.store.createJob(newJob(), { idempotency: idem({ owner: 'bob', requestHash: 'other' }) })).job.id).toBe(bob.job.id);
    });

    it('an expired key is taken over by a new job, whatever its request', async () => {
      const first = await h.store.createJob(newJob(), { idempotency: idem({ ttlMs: 60_000 }) });
      h.clock += 60_000;
      const second = await h.store.createJob(newJob(), { idempotency: idem({ requestHash: 'hash-2', ttlMs: 10_000 }) });
      expect(second.created).toBe(true);
      expect(second.job.id).not.toBe(first.job.id);
      h.clock += 9_999;
      expect(await h.store.createJob(newJob(), { idempotency: idem({ requestHash: 'hash-2' }) })).toMatchObject({ created: false, job: { id: second.job.id } });
      await expect(h.store.createJob(newJob(), { idempotency: idem() })).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', details: { jobId: second.job.id } });
      expect((await h.store.listJobs({ limit: 10 })).jobs).toHaveLength(2);
    });

    it('20 concurrent submissions with one key from several connections create exactly one job', async () => {
      const stores: Store[] = [h.store, await h.open(h.store), await h.open(h.store), await h.open(h.store)];
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (stores[i % stores.length] as Store).createJob(newJob(), { idempotency: idem() })));
      const ids = new Set(answers.map((a) => a.job.id));
      expect(ids.size).toBe(1);
      expect(answers.filter((a) => a.created)).toHaveLength(1);
      for (const s of stores) expect((await s.listJobs({ limit: 10 })).jobs.map((j) => j.id)).toEqual([...ids]);
    });

    it('refuses malformed idempotency options', async () => {
      for (const bad of [idem({ key: '' }), idem({ key: 'k'.repeat(256) }), idem({ requestHash: '' }), idem({ ttlMs: 0 }), idem({ ttlMs: 1.5 })]) {
        await expectCode(h.store.createJob(newJob(), { idempotency: bad }), 'VALIDATION_FAILED');
      }
      expect((await h.store.listJobs({ limit: 10 })).jobs).toEqual([]);
    });
  });
}
