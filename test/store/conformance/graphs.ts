// Task graphs: dependencies by name, the pending-dependency counter released in the completing
// transaction, weighted progress, graph extension from a completed task's result, and how
// failure and cancellation spread through a graph.
import { describe, expect, it } from 'vitest';
import type { ClaimedTask, Job } from '../../../src/protocol/index.js';
import type { NewTask } from '../../../src/store/store.js';
import { MAX_RUN, errorBody, expectCode, ref, type Harness } from './harness.js';

const task = (name: string, after: string[] = [], o: Partial<NewTask> = {}): NewTask => ({
  kind: 'probe', input: 'store://uploads/clip.mp4', params: { name }, maxAttempts: 2, maxRunMs: MAX_RUN, name, after, ...o,
});

export function graphTests(h: Harness): void {
  describe('task graphs', () => {
    const diamond = () => h.store.createJob({ kind: 'transcode', input: 'store://uploads/clip.mp4', params: {}, priority: 0, tasks: [task('a'), task('b', ['a']), task('c', ['a']), task('d', ['b', 'c'])] });
    const names = (claimed: ClaimedTask[]) => claimed.map((c) => (c.params as { name: string }).name).sort();
    const complete = (c: ClaimedTask, w: string, result: unknown = null) => h.store.completeTask(ref(c, w), result);
    const byName = (job: Job | null, name: string) => job?.tasks?.find((t) => t.name === name);

    it('hands out a task only once every task it waits for has completed', async () => {
      const { job } = await diamond();
      expect(job.tasks?.map((t) => [t.name, t.waitingOn])).toEqual([['a', 0], ['b', 1], ['c', 1], ['d', 2]]);
      const w = await h.worker();
      const ready: [string, number][] = [];
      h.store.onTasksReady((kinds) => ready.push(...kinds));
      const [a] = await h.claim(w, 10);
      expect(names([a as ClaimedTask])).toEqual(['a']);
      expect(await h.claim(w, 10)).toEqual([]);
      await complete(a as ClaimedTask, w);
      expect(ready).toEqual([['probe', 2]]);
      const bc = await h.claim(w, 10);
      expect(names(bc)).toEqual(['b', 'c']);
      await complete(bc[0] as ClaimedTask, w);
      expect(await h.claim(w, 10)).toEqual([]); // d still waits for the other one
      expect(byName(await h.store.getJob(job.id, { withTasks: true }), 'd')).toMatchObject({ status: 'pending', waitingOn: 1 });
      // The last dependency may complete through a batched acknowledgement too.
      await h.store.acknowledge(w, { completed: [{ taskId: (bc[1] as ClaimedTask).taskId, attempt: 1, result: null }] });
      const [d] = await h.claim(w, 10);
      expect(names([d as ClaimedTask])).toEqual(['d']);
      await complete(d as ClaimedTask, w, { done: true });
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'completed', result: { done: true } });
    });

    it('is running, not pending, while its next tasks wait; progress weighs tasks by weight', async () => {
      const { job } = await h.store.createJob({ kind: 'transcode', input: 'x://', params: {}, priority: 0, tasks: [task('a', [], { weight: 1 }), task('b', ['a'], { weight: 3 })] });
      const w = await h.worker();
      await complete(await h.claimOne(w), w);
      expect(await h.store.getJob(job.id)).toMatchObject({ status: 'running', progress: 0.25 });
      const b = await h.claimOne(w);
      await h.store.reportProgress(ref(b, w), 0.5);
      expect((await h.store.getJob(job.id))?.progress).toBeCloseTo(0.25 + 0.75 * 0.5, 9);
    });

    it('refuses a graph with a duplicate name or a dependency on a task not listed before it, inserting nothing', async () => {
      const bad = (tasks: NewTask[]) => h.store.createJob({ kind: 'transcode', input: 'x://', params: {}, priority: 0, tasks });
      await expectCode(bad([task('a'), task('a')]), 'VALIDATION_FAILED');
      await expectCode(bad([task('b', ['a']), task('a')]), 'VALIDATION_FAILED'); // forward reference: no cycles possible
      await expectCode(bad([task('a', ['a'])]), 'VALIDATION_FAILED');
      await expectCode(bad([task('a'), { ...task('b', ['a']), name: undefined }]), 'VALIDATION_FAILED');
      await expectCode(bad([task('a', [], { weight: 0 })]), 'VALIDATION_FAILED');
      expect((await h.store.listJobs({ limit: 10 })).jobs).toEqual([]);
    });

    it('a retried dependency keeps its dependents waiting; a lease expiry does not release them either', async () => {
      await diamond();
      const w = await h.worker();
      const a = await h.claimOne(w);
      expect(await h.store.failTask(ref(a, w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 0 })).toBe('pending');
      const again = await h.claimOne(w);
      expect(again).toMatchObject({ taskId: a.taskId, attempt: 2 });
      expect(await h.claim(w, 10)).toEqual([]);
    });

    it('a task that fails for good fails the job naming the task, and cancels the tasks waiting behind it', async () => {
      const { job } = await diamond();
      const w = await h.worker();
      await complete(await h.claimOne(w), w);
      const [b] = await h.claim(w, 1);
      await h.store.failTask(ref(b as ClaimedTask, w), errorBody('INPUT_CORRUPT'), { retryDelayMs: 0 });
      const after = await h.store.getJob(job.id, { withTasks: true });
      expect(after).toMatchObject({ status: 'failed', error: { code: 'INPUT_CORRUPT', details: { task: 'b' } } });
      expect(after?.tasks?.map((t) => [t.name, t.status])).toEqual([['a', 'completed'], ['b', 'failed'], ['c', 'canceled'], ['d', 'canceled']]);
      expect(await h.claim(w, 10)).toEqual([]);
    });

    it('cancel ends waiting tasks at once', async () => {
      const { job } = await diamond();
      const canceled = await h.store.cancelJob(job.id, 10_000);
      expect(canceled.status).toBe('canceled');
      expect(canceled.tasks?.every((t) => t.status === 'canceled')).toBe(true);
    });

    it("drops a completed job's work/ artifacts and hands their keys out once for deletion; a failed job keeps them", async () => {
      const art = (name: string) => ({ name, key: `jobs/x/${name}`, size: 1, sha256: 'a'.repeat(64), contentType: 'video/mp4' });
      const { job } = await h.store.createJob({ kind: 'transcode', input: 'x://', params: {}, priority: 0, tasks: [task('a'), task('b', ['a'])] });
      const w = await h.worker();
      const a = await h.claimOne(w);
      await h.store.recordArtifact(ref(a, w), art('work/video/360p/00000.mp4'));
      await h.store.recordArtifact(ref(a, w), art('work0-is-not-work.mp4'));
      await complete(a, w);
      const b = await h.claimOne(w);
      await h.store.recordArtifact(ref(b, w), art('360p.mp4'));
      expect(await h.store.takeBlobTrash(10)).toEqual([]); // not before the job completes
      await complete(b, w);
      expect((await h.store.listArtifacts(job.id)).map((x) => x.name).sort()).toEqual(['360p.mp4', 'work0-is-not-work.mp4']);
      expect(await h.store.takeBlobTrash(10)).toEqual(['jobs/x/work/video/360p/00000.mp4']);
      expect(await h.store.takeBlobTrash(10)).toEqual([]);

      const failed = (await diamond()).job;
      const fa = await h.claimOne(w);
      await h.store.recordArtifact(ref(fa, w), { ...art('work/audio.mp4'), key: 'jobs/y/work/audio.mp4' });
      await h.store.failTask(ref(fa, w), errorBody('INPUT_CORRUPT'), { retryDelayMs: 0 });
      expect((await h.store.listArtifacts(failed.id)).map((x) => x.name)).toEqual(['work/audio.mp4']);
      expect(await h.store.takeBlobTrash(10)).toEqual([]);
    });

    describe('extension from a completed task (graph expanders)', () => {
      const planJob = () => h.store.createJob({ kind: 'transcode', input: 'x://', params: { ladder: 1 }, priority: 5, tasks: [task('plan', [], { kind: 'plan' })] });

      it("adds the expander's tasks in the completing transaction; they wait for what they name", async () => {
        const { job } = await planJob();
        const w = await h.worker();
        const ready: [string, number][] = [];
        h.store.onTasksReady((kinds) => ready.push(...kinds));
        const plan = await h.claimOne(w, ['plan']);
        await complete(plan, w, { parts: 3 });
        const grown = await h.store.getJob(job.id, { withTasks: true });
        expect(grown?.tasks?.map((t) => [t.name, t.status, t.waitingOn])).toEqual([
          ['plan', 'completed', 0], ['part/0', 'pending', 0], ['part/1', 'pending', 0], ['part/2', 'pending', 0], ['final', 'pending', 3],
        ]);
        expect(grown?.status).toBe('running');
        expect(ready).toEqual([['probe', 3]]);
        const events = await h.eventTypes(job.id);
        expect(events.slice(-2)).toEqual(['task.completed', 'job.expanded']);
        const parts = await h.claim(w, 10);
        expect(parts.map((p) => p.params)).toEqual([{ part: 0 }, { part: 1 }, { part: 2 }]);
        // Weighted: plan 1 + parts 3 × 2 + final 1 = 8; plan and two parts done = 5/8.
        await h.store.acknowledge(w, { completed: parts.slice(0, 2).map((p) => ({ taskId: p.taskId, attempt: p.attempt, result: null })) });
        expect((await h.store.getJob(job.id))?.progress).toBeCloseTo(5 / 8, 9);
        await complete(parts[2] as ClaimedTask, w);
        const final = await h.claimOne(w);
        await complete(final, w, { out: 'final' });
        expect(await h.store.getJob(job.id)).toMatchObject({ status: 'completed', progress: 1, result: { out: 'final' } });
      });

      it('a result the expander refuses fails the task and the job with its error, naming the task', async () => {
        const { job } = await planJob();
        const w = await h.worker();
        const plan = await h.claimOne(w, ['plan']);
        await complete(plan, w, { throw: 'no keyframes in the source' });
        const after = await h.store.getJob(job.id, { withTasks: true });
        expect(after).toMatchObject({ status: 'failed', error: { code: 'INVALID_PARAMS', message: 'no keyframes in the source', retryable: false, details: { task: 'plan' } } });
        expect(after?.tasks?.map((t) => t.status)).toEqual(['failed']);
        expect(await h.eventTypes(job.id)).toContain('task.failed');
      });

      it('adds nothing to a job that is already being canceled', async () => {
        const { job } = await planJob();
        const w = await h.worker();
        const plan = await h.claimOne(w, ['plan']);
        await h.store.reportProgress(ref(plan, w), 0.1);
        await h.store.cancelJob(job.id, 10_000);
        await complete(plan, w, { parts: 3 }); // finished before it saw the cancel
        const after = await h.store.getJob(job.id, { withTasks: true });
        expect(after?.tasks).toHaveLength(1);
        expect(after?.status).toBe('completed');
      });
    });
  });
}
