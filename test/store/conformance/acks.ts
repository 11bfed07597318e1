// Batched acknowledgements: a worker's started/completed reports for many attempts at once,
// each fenced on its own, never failing the batch for a stale one.
import { describe, expect, it } from 'vitest';
import type { ClaimedTask } from '../../../src/protocol/index.js';
import { LEASE, iso, ref, type Harness } from './harness.js';

export function ackTests(h: Harness): void {
  describe('batched acknowledgements', () => {
    const at = (c: ClaimedTask) => ({ taskId: c.taskId, attempt: c.attempt });

    it('starts and completes several attempts in one batch, in order, with the same events as one by one', async () => {
      const jobs = [await h.submit(), await h.submit(), await h.submit()];
      const w = await h.worker();
      const [a, b, c] = (await h.claim(w, 3)) as [ClaimedTask, ClaimedTask, ClaimedTask];
      const acks = await h.store.acknowledge(w, {
        started: [at(a), at(b), at(c)],
        completed: [{ ...at(a), result: { n: 1 } }, { ...at(b), result: null }],
      });
      expect(acks).toEqual([
        { ...at(a), state: 'ok' }, { ...at(b), state: 'ok' }, { ...at(c), state: 'ok' },
        { ...at(a), state: 'ok' }, { ...at(b), state: 'ok' },
      ]);
      const byId = new Map([a, b, c].map((t) => [t.jobId, t]));
      for (const job of jobs) {
        const done = byId.get(job.id) !== c;
        expect(await h.store.getJob(job.id)).toMatchObject(done ? { status: 'completed', progress: 1 } : { status: 'running' });
        expect(await h.eventTypes(job.id)).toEqual(done ? ['job.created', 'task.claimed', 'task.running', 'task.completed', 'job.completed'] : ['job.created', 'task.claimed', 'task.running']);
      }
      expect(await h.task(a.jobId)).toMatchObject({ status: 'completed', result: { n: 1 }, startedAt: iso(h.clock) });
    });

    it('a stale attempt in a batch is answered lost and changes nothing; the rest still apply', async () => {
      await h.submit({ maxAttempts: 3 });
      const other = await h.submit();
      const w = await h.worker();
      const first = await h.claimOne(w);
      h.clock += LEASE + 1;
      await h.store.requeueExpiredLeases();
      const second = await h.claimOne(w); // the same task, attempt 2 (first in line again)
      expect(second).toMatchObject({ taskId: first.taskId, attempt: 2 });
      const fresh = await h.claimOne(w);
      expect(fresh.jobId).toBe(other.id);
      const acks = await h.store.acknowledge(w, {
        started: [at(first), { taskId: 'no-such-task', attempt: 1 }],
        completed: [{ ...at(first), result: 'late' }, { ...at(fresh), result: 'ok' }],
      });
      expect(acks.map((x) => x.state)).toEqual(['lost', 'lost', 'lost', 'ok']);
      expect(await h.task(first.jobId)).toMatchObject({ status: 'assigned', attempt: 2, result: null });
      expect((await h.store.getJob(other.id))?.status).toBe('completed');
    });

    it('re-sending a batch whose answer was lost is safe: the applied completion is acknowledged again', async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      const batch = { started: [at(c)], completed: [{ ...at(c), result: 7 }] };
      expect((await h.store.acknowledge(w, batch)).map((x) => x.state)).toEqual(['ok', 'ok']);
      expect((await h.store.acknowledge(w, batch)).map((x) => x.state)).toEqual(['ok', 'ok']);
      expect(await h.eventTypes(job.id)).toEqual(['job.created', 'task.claimed', 'task.running', 'task.completed', 'job.completed']);
      // Another worker cannot pass off that completion as its own.
      const intruder = await h.worker();
      expect((await h.store.acknowledge(intruder, { completed: [{ ...at(c), result: 8 }] }))[0]?.state).toBe('lost');
      expect(await h.task(job.id)).toMatchObject({ result: 7 });
    });

    it('a completion that overtakes its started report implies the start (task.running, startedAt)', async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      h.clock += 5;
      expect(await h.store.acknowledge(w, { completed: [{ ...at(c), result: 1 }] })).toEqual([{ ...at(c), state: 'ok' }]);
      expect(await h.eventTypes(job.id)).toEqual(['job.created', 'task.claimed', 'task.running', 'task.completed', 'job.completed']);
      expect(await h.task(job.id)).toMatchObject({ status: 'completed', startedAt: iso(h.clock) });
      // The late started report changes nothing and is not an error.
      expect(await h.store.acknowledge(w, { started: [at(c)] })).toEqual([{ ...at(c), state: 'ok' }]);
      expect(await h.eventTypes(job.id)).toHaveLength(5);
    });

    it('a started report for a task being canceled answers cancel', async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      await h.store.reportProgress(ref(c, w), 0.2);
      await h.store.cancelJob(job.id, 10_000);
      expect(await h.store.acknowledge(w, { started: [at(c)] })).toEqual([{ ...at(c), state: 'cancel' }]);
      // A completion that arrives while canceling is accepted, as completeTask does.
      expect((await h.store.acknowledge(w, { completed: [{ ...at(c), result: 1 }] }))[0]?.state).toBe('ok');
    });
  });
}
