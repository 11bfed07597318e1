// Retention: pruning finished jobs (with everything hanging off them) and expired idempotency keys.
import { describe, expect, it } from 'vitest';
import type { ClaimedTask, Job } from '../../../src/protocol/index.js';
import { errorBody, expectCode, idem, newJob, ref, T0, type ConformanceTable, type Harness } from './harness.js';

export function retentionTests(h: Harness): void {
  describe('retention', () => {
    /** Jobs in every state; the finished ones finish at T0, `recent` at T0 + 10 s. */
    async function fleetOfJobs() {
      const w = await h.worker();
      const completed = await h.submit();
      const c = await h.claimOne(w);
      for (const name of ['a.jpg', 'b.jpg']) {
        await h.store.recordArtifact(ref(c, w), { name, key: `jobs/${completed.id}/a1/${name}`, size: 1, sha256: 's', contentType: 'image/jpeg' });
      }
      await h.store.appendTaskLogs(ref(c, w), [{ ts: h.clock, line: 'ffmpeg …' }]);
      await h.store.completeTask(ref(c, w), null);
      const failed = await h.submit();
      await h.store.failTask(ref(await h.claimOne(w), w), errorBody('NOT_A_VIDEO'), { retryDelayMs: 0 });
      const canceled = await h.submit();
      await h.store.cancelJob(canceled.id, 0);
      const pending = await h.submit({ kind: 'thumbnail' });
      const running = await h.submit();
      const r = await h.claimOne(w);
      await h.store.reportProgress(ref(r, w), 0.5);
      await h.store.appendTaskLogs(ref(r, w), [{ ts: h.clock, line: 'still running' }]);
      const canceling = await h.submit();
      const k = await h.claimOne(w);
      await h.store.reportProgress(ref(k, w), 0.5);
      await h.store.cancelJob(canceling.id, 60_000);
      h.clock = T0 + 10_000;
      const recent = await h.submit();
      await h.store.completeTask(ref(await h.claimOne(w), w), null);
      return { w, completed, failed, canceled, pending, running, canceling, recent };
    }

    it('prunes jobs finished long enough ago with their tasks, artifacts and events, never unfinished ones', async () => {
      const jobs = await fleetOfJobs();
      const unfinished = [jobs.pending, jobs.running, jobs.canceling];
      const before = new Map<string, unknown>();
      for (const j of [...unfinished, jobs.recent]) before.set(j.id, await h.snapshot(j.id));
      h.clock = T0 + 100_000;

      // finished_at must be strictly older than now - olderThanMs.
      expect(await h.store.pruneFinished(100_000, 100)).toEqual({ jobs: 0, artifactKeys: [] });
      expect(await h.store.pruneFinished(99_999, 100)).toEqual({
        jobs: 3,
        artifactKeys: [`jobs/${jobs.completed.id}/a1/a.jpg`, `jobs/${jobs.completed.id}/a1/b.jpg`],
      });
      for (const gone of [jobs.completed, jobs.failed, jobs.canceled]) {
        expect(await h.store.getJob(gone.id)).toBeNull();
        expect(await h.store.listEvents(gone.id)).toEqual([]);
        expect(await h.store.listArtifacts(gone.id)).toEqual([]);
      }
      for (const j of [...unfinished, jobs.recent]) expect(await h.snapshot(j.id)).toEqual(before.get(j.id));
      expect(await h.store.pruneFinished(99_999, 100)).toEqual({ jobs: 0, artifactKeys: [] });

      // olderThanMs 0 takes every finished job, still none unfinished.
      expect(await h.store.pruneFinished(0, 100)).toEqual({ jobs: 1, artifactKeys: [] });
      expect((await h.store.listJobs({ limit: 10 })).jobs.map((j) => j.id).sort()).toEqual(unfinished.map((j) => j.id).sort());
      for (const j of unfinished) expect(await h.snapshot(j.id)).toEqual(before.get(j.id));
    });

    it('prunes at most limit jobs per call, oldest finished first', async () => {
      const w = await h.worker();
      const finishedOrder: string[] = [];
      for (let i = 0; i < 5; i++) {
        const job = await h.submit();
        finishedOrder.push(job.id);
        h.clock += 1000;
        await h.store.completeTask(ref(await h.claimOne(w), w), null);
      }
      h.clock += 1000;
      const left = async () => (await h.store.listJobs({ limit: 10 })).jobs.map((j) => j.id).sort();
      expect((await h.store.pruneFinished(0, 2)).jobs).toBe(2);
      expect(await left()).toEqual(finishedOrder.slice(2).sort());
      expect((await h.store.pruneFinished(0, 2)).jobs).toBe(2);
      expect((await h.store.pruneFinished(0, 2)).jobs).toBe(1);
      expect((await h.store.pruneFinished(0, 2)).jobs).toBe(0);
      await expectCode(h.store.pruneFinished(0, 0), 'VALIDATION_FAILED');
      await expectCode(h.store.pruneFinished(-1, 10), 'VALIDATION_FAILED');
    });

    it('keeps a failed job while a sibling task is still held, and prunes it once that attempt ends', async () => {
      const job = await h.submit({ tasks: 2 });
      const w = await h.worker();
      const [t1, t2] = (await h.claim(w, 2)) as [ClaimedTask, ClaimedTask];
      await h.store.failTask(ref(t1, w), errorBody('NOT_A_VIDEO'), { retryDelayMs: 0 });
      h.clock += 10_000;
      expect(await h.store.pruneFinished(0, 10)).toEqual({ jobs: 0, artifactKeys: [] });
      await h.store.recordArtifact(ref(t2, w), { name: 'late.txt', key: 'k/late.txt', size: 1, sha256: 's', contentType: 'text/plain' });
      await h.store.completeTask(ref(t2, w), null);
      expect(await h.store.pruneFinished(0, 10)).toEqual({ jobs: 1, artifactKeys: ['k/late.txt'] });
      expect(await h.store.getJob(job.id)).toBeNull();
    });

    it('a pruned job takes its idempotency key with it; expired keys go too', async () => {
      const w = await h.worker();
      const kept = await h.store.createJob(newJob({ kind: 'thumbnail' }), { idempotency: idem({ key: 'short', ttlMs: 10_000 }) });
      const done = await h.store.createJob(newJob(), { idempotency: idem({ key: 'long', ttlMs: 3_600_000 }) });
      await h.store.completeTask(ref(await h.claimOne(w), w), null);
      h.clock = T0 + 20_000;
      expect((await h.store.pruneFinished(15_000, 10)).jobs).toBe(1);
      // The long-lived key went with its job: the same request now makes a new job.
      const again = await h.store.createJob(newJob(), { idempotency: idem({ key: 'long', ttlMs: 3_600_000 }) });
      expect(again.created).toBe(true);
      expect(again.job.id).not.toBe(done.job.id);
      expect((await h.store.getJob(kept.job.id))?.status).toBe('pending');
    });

    it.skipIf(!h.hooks.countRows)('leaves no rows behind: tasks, artifacts, events and keys of pruned jobs, and expired keys', async () => {
      const count = async (table: ConformanceTable) => (h.hooks.countRows ? h.hooks.countRows(h.store, table) : Number.NaN);
      const jobs = await fleetOfJobs();
      // Keys: a live one and an expiring one on unfinished jobs, and one on a job that is pruned.
      const live = await h.store.createJob(newJob({ kind: 'thumbnail' }), { idempotency: idem({ key: 'live', ttlMs: 3_600_000 }) });
      const expiring = await h.store.createJob(newJob({ kind: 'thumbnail' }), { idempotency: idem({ key: 'expiring', ttlMs: 1_000 }) });
      const pruned = await h.store.createJob(newJob({ kind: 'thumbnail' }), { idempotency: idem({ key: 'pruned', ttlMs: 3_600_000 }) });
      await h.store.cancelJob(pruned.job.id, 0);
      expect(await count('jobs')).toBe((await h.store.listJobs({ limit: 100 })).jobs.length);
      expect(await count('idempotency_keys')).toBe(3);

      h.clock = T0 + 100_000;
      await h.store.pruneFinished(0, 100);
      const liveIds = (await h.store.listJobs({ limit: 100 })).jobs.map((j) => j.id);
      expect(liveIds.sort()).toEqual([jobs.pending.id, jobs.running.id, jobs.canceling.id, live.job.id, expiring.job.id].sort());
      let tasks = 0;
      let events = 0;
      for (const id of liveIds) {
        tasks += ((await h.store.getJob(id, { withTasks: true })) as Job).tasks?.length ?? 0;
        events += (await h.store.listEvents(id)).length;
      }
      expect(await count('jobs')).toBe(liveIds.length);
      expect(await count('tasks')).toBe(tasks);
      expect(await count('events')).toBe(events);
      expect(await count('artifacts')).toBe(0);
      expect(await count('task_logs')).toBe(1); // the running job's line; the pruned job's went with it
      expect(await count('idempotency_keys')).toBe(1); // 'expiring' is past its TTL, 'pruned' went with its job
    });
  });
}
