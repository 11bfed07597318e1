// Task logs (bounded per task, fenced to the attempt that holds or last held the task) and task
// requirements (a task goes only to a worker that has every capability it requires).
import { describe, expect, it } from 'vitest';
import { TASK_LOG_MAX_LINE_CHARS, TASK_LOG_MAX_LINES } from '../../../src/store/store.js';
import { LEASE, expectCode, iso, newJob, ref, type Harness } from './harness.js';

export function logTests(h: Harness): void {
  describe('task logs', () => {
    it('keeps lines in order per job, pages by id, filters by task, and takes a tail after completion', async () => {
      const job = await h.submit({ tasks: 2 });
      const w = await h.worker();
      const [a, b] = await h.claim(w, 2);
      await h.store.appendTaskLogs(ref(a!, w), [{ ts: h.clock, line: 'a1' }, { ts: h.clock + 1, line: 'a2\n' }]);
      await h.store.appendTaskLogs(ref(b!, w), [{ ts: h.clock + 2, line: 'b1' }]);
      await h.store.completeTask(ref(a!, w), null);
      await h.store.appendTaskLogs(ref(a!, w), [{ ts: h.clock + 3, line: 'a3 (tail after completion)' }]);
      const all = await h.store.listTaskLogs(job.id, { limit: 100 });
      expect(all.map((l) => l.line)).toEqual(['a1', 'a2', 'b1', 'a3 (tail after completion)']);
      expect(all[0]).toMatchObject({ taskId: a!.taskId, attempt: 1, ts: iso(h.clock) });
      expect(all.map((l) => l.id)).toEqual([...all.map((l) => l.id)].sort((x, y) => x - y));
      const page = await h.store.listTaskLogs(job.id, { limit: 2 });
      expect((await h.store.listTaskLogs(job.id, { afterId: page[1]!.id, limit: 100 })).map((l) => l.line)).toEqual(['b1', 'a3 (tail after completion)']);
      expect((await h.store.listTaskLogs(job.id, { taskId: b!.taskId, limit: 100 })).map((l) => l.line)).toEqual(['b1']);
      expect(await h.store.listTaskLogs('job_nope', { limit: 10 })).toEqual([]);
    });

    it('refuses lines from an attempt that no longer holds the task, and from strangers', async () => {
      await h.submit({ maxAttempts: 3 });
      const w = await h.worker();
      const first = await h.claimOne(w);
      h.clock += LEASE + 1;
      await h.store.requeueExpiredLeases();
      const second = await h.claimOne(w);
      await expectCode(h.store.appendTaskLogs(ref(first, w), [{ ts: h.clock, line: 'late' }]), 'STALE_ATTEMPT');
      const other = await h.worker(h.store, 'other');
      await expectCode(h.store.appendTaskLogs(ref(second, other), [{ ts: h.clock, line: 'x' }]), 'STALE_ATTEMPT');
      await expectCode(h.store.appendTaskLogs({ taskId: 'task_nope', attempt: 1, workerId: w }, [{ ts: 1, line: 'x' }]), 'TASK_NOT_FOUND');
      expect(await h.store.listTaskLogs(second.jobId, { limit: 10 })).toEqual([]);
    });

    it(`keeps the newest ${TASK_LOG_MAX_LINES} lines of a task and cuts over-long lines`, async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      const total = TASK_LOG_MAX_LINES + 250;
      for (let i = 0; i < total; i += 500) {
        await h.store.appendTaskLogs(ref(c, w), Array.from({ length: Math.min(500, total - i) }, (_, j) => ({ ts: h.clock, line: `line ${i + j}` })));
      }
      await h.store.appendTaskLogs(ref(c, w), [{ ts: h.clock, line: 'x'.repeat(TASK_LOG_MAX_LINE_CHARS + 10) }]);
      const kept = await h.store.listTaskLogs(job.id, { limit: 10_000 });
      expect(kept).toHaveLength(TASK_LOG_MAX_LINES);
      expect(kept[0]!.line).toBe(`line ${total + 1 - TASK_LOG_MAX_LINES}`);
      expect(kept.at(-1)!.line).toMatch(/^x{4000} … \[10 more characters cut\]$/);
    });
  });

  describe('task requirements', () => {
    it('hands a task only to a worker with every capability it requires; others pass over it', async () => {
      const needy = await h.store.createJob({ ...newJob(), tasks: [{ ...newJob().tasks[0]!, requires: ['tag:gpu', 'encoder:libsvtav1'] }] });
      const plain = await h.submit();
      const w = await h.worker();
      const claim = (capabilities: string[]) => h.store.claimTasks({ workerId: w, kinds: ['probe'], max: 5, leaseMs: LEASE, capabilities });
      // The needy job is first in line, yet a worker lacking one capability gets only the plain one.
      expect((await claim(['tag:gpu', 'encoder:libx264'])).map((t) => t.jobId)).toEqual([plain.id]);
      expect(await claim([])).toEqual([]);
      expect((await claim(['encoder:libsvtav1', 'tag:gpu', 'filter:zscale'])).map((t) => t.jobId)).toEqual([needy.job.id]);
    });

    it('refuses a requirement that is not a capability token', async () => {
      await expectCode(h.store.createJob({ ...newJob(), tasks: [{ ...newJob().tasks[0]!, requires: ['gpu'] }] }), 'VALIDATION_FAILED');
    });
  });
}
