// Claiming: who gets which task, in what order, and never two claimers the same attempt.
import { describe, expect, it } from 'vitest';
import type { ClaimedTask } from '../../../src/protocol/index.js';
import type { Store } from '../../../src/store/store.js';
import { errorBody, expectCode, iso, LEASE, MAX_RUN, ref, type Harness } from './harness.js';

export function claimingTests(h: Harness): void {
  describe('claiming', () => {
    it('hands out only pending tasks of the given kinds, by priority then age', async () => {
      const old = await h.submit();
      h.clock += 10;
      const young = await h.submit();
      const urgent = await h.submit({ kind: 'thumbnail', priority: 5 });
      const other = await h.submit({ kind: 'transcode', priority: 100 });
      const w = await h.worker();
      const got = await h.claim(w, 10, ['probe', 'thumbnail']);
      expect(got.map((c) => c.jobId)).toEqual([urgent.id, old.id, young.id]);
      expect(got[1]).toMatchObject({ attempt: 1, kind: 'probe', params: { part: 0 }, resumeData: null, leaseExpiresAt: iso(h.clock + LEASE) });
      expect(await h.task(old.id)).toMatchObject({ status: 'assigned', attempt: 1, workerId: w, leaseExpiresAt: iso(h.clock + LEASE) });
      expect((await h.store.getJob(old.id))?.status).toBe('running');
      expect((await h.store.getJob(other.id))?.status).toBe('pending');
      expect(await h.claim(w, 10, ['probe', 'thumbnail'])).toEqual([]);
      expect(await h.eventTypes(old.id)).toEqual(['job.created', 'task.claimed']);
    });

    it('higher priority first, then the older task, one claim at a time; a retried task keeps its age', async () => {
      const made: Record<string, string> = {};
      for (const [label, kind, priority] of [
        ['a', 'probe', 0],
        ['b', 'probe', 1],
        ['c', 'thumbnail', 1],
        ['d', 'probe', 0],
        ['e', 'thumbnail', -1],
        ['f', 'thumbnail', 2],
      ] as const) {
        made[label] = (await h.submit({ kind, priority })).id;
        h.clock += 10;
      }
      const label = Object.fromEntries(Object.entries(made).map(([k, v]) => [v, k]));
      const w = await h.worker();
      const order: string[] = [];
      const byLabel: Record<string, ClaimedTask> = {};
      for (;;) {
        const got = await h.claim(w, 1, ['probe', 'thumbnail']);
        if (got.length === 0) break;
        for (const c of got) {
          order.push(label[c.jobId] ?? '?');
          byLabel[label[c.jobId] ?? '?'] = c;
        }
      }
      expect(order).toEqual(['f', 'b', 'c', 'a', 'd', 'e']);

      // A retried task keeps its creation time: it goes ahead of younger work of its priority.
      const g = await h.submit({ priority: 0 });
      const a = byLabel.a;
      if (!a) throw new Error('a was not claimed');
      expect(await h.store.failTask(ref(a, w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 0 })).toBe('pending');
      expect((await h.claim(w, 2)).map((c) => [c.jobId, c.attempt])).toEqual([
        [made.a, 2],
        [g.id, 1],
      ]);
    });

    it('breaks ties of priority and time in creation order', async () => {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await h.submit()).id);
      const got = await h.claim(await h.worker(), 5);
      expect(got.map((c) => c.jobId)).toEqual(ids);
    });

    it('picks by priority across and within kinds when claiming fewer than wait', async () => {
      const ids: Record<string, string> = {};
      for (const [label, kind, priority] of [['p0', 'probe', 0], ['p5', 'probe', 5], ['t3', 'thumbnail', 3], ['p1', 'probe', 1], ['t9', 'thumbnail', 9]] as const) {
        ids[label] = (await h.submit({ kind, priority })).id;
      }
      const w = await h.worker();
      const take = async (max: number) => (await h.claim(w, max, ['probe', 'thumbnail'])).map((c) => c.jobId);
      expect(await take(1)).toEqual([ids.t9]);
      expect(await take(1)).toEqual([ids.p5]);
      expect(await take(2)).toEqual([ids.t3, ids.p1]);
      expect(await take(5)).toEqual([ids.p0]);
    });

    it('claims at most max tasks per call', async () => {
      await h.submit({ tasks: 5 });
      const w = await h.worker();
      const sizes = [];
      for (let i = 0; i < 4; i++) sizes.push((await h.claim(w, 2)).length);
      expect(sizes).toEqual([2, 2, 1, 0]);
    });

    it('refuses an unregistered worker', async () => {
      await h.submit();
      await expectCode(h.claim('wkr_unknown', 1), 'WORKER_NOT_FOUND');
    });

    it('never hands one task to two of several racing claimers on one database', async () => {
      const stores = [h.store, await h.open(h.store), await h.open(h.store), await h.open(h.store)];
      const jobs = [];
      for (let i = 0; i < 50; i++) jobs.push(await h.submit({ tasks: 10, maxRunMs: MAX_RUN }));
      const owner = new Map<string, string>();
      let duplicates = 0;
      const claimer = async (s: Store, i: number) => {
        const w = await h.worker(s, `racer-${i}`);
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
        for (const t of (await h.store.getJob(job.id, { withTasks: true }))?.tasks ?? []) {
          expect([t.status, t.attempt, t.workerId]).toEqual(['assigned', 1, owner.get(t.id)]);
        }
      }
    });
  });
}
