// The fleet's event log (issue 8): job and worker events in commit order, resumable from a
// cursor with nothing skipped or repeated, even while other connections write; task progress
// logged at most every PROGRESS_EVENT_INTERVAL_MS; worker online/offline transitions.
import { describe, expect, it } from 'vitest';
import type { FeedEvent } from '../../../src/protocol/index.js';
import { PROGRESS_EVENT_INTERVAL_MS, WORKER_EVENT_REASONS } from '../../../src/store/feed.js';
import type { Store } from '../../../src/store/store.js';
import { CAPS, LEASE, expectCode, newJob, ref, type Harness } from './harness.js';

/** Every event after `after`, read in pages of `page`. */
async function readAll(store: Store, after: string | undefined, page: number, jobId?: string): Promise<FeedEvent[]> {
  const out: FeedEvent[] = [];
  let cursor = after;
  for (;;) {
    const events = await store.listFeed({ limit: page, ...(cursor !== undefined && { after: cursor }), ...(jobId !== undefined && { jobId }) });
    out.push(...events);
    if (events.length < page) return out;
    cursor = events.at(-1)!.cursor;
  }
}

export function feedTests(h: Harness): void {
  describe('event feed', () => {
    it('lists job and worker events in order, resumes from any cursor, and filters by job', async () => {
      const w = await h.worker();
      const job = await h.submit();
      const other = await h.submit({ kind: 'thumbnail' });
      const c = await h.claimOne(w);
      await h.store.completeTask(ref(c, w), null);
      const all = await readAll(h.store, undefined, 2);
      expect(all.map((e) => e.type)).toEqual(['worker.online', 'job.created', 'job.created', 'task.claimed', 'task.running', 'task.completed', 'job.completed']);
      expect(all[0]).toMatchObject({ workerId: w, jobId: null, taskId: null, data: { reason: WORKER_EVENT_REASONS.registered, kinds: CAPS.kinds } });
      expect(all[3]).toMatchObject({ jobId: job.id, taskId: c.taskId, workerId: null, data: { attempt: 1, workerId: w } });
      expect(new Set(all.map((e) => e.cursor)).size).toBe(all.length);
      for (let i = 0; i < all.length; i++) {
        expect((await h.store.listFeed({ after: all[i]!.cursor, limit: 100 })).map((e) => e.id)).toEqual(all.slice(i + 1).map((e) => e.id));
      }
      expect((await readAll(h.store, undefined, 100, other.id)).map((e) => e.type)).toEqual(['job.created']);
      const jobFeed = await readAll(h.store, all[1]!.cursor, 1, job.id);
      expect(jobFeed.map((e) => e.type)).toEqual(['task.claimed', 'task.running', 'task.completed', 'job.completed']);
    });

    it('refuses a cursor it did not make and a bad limit', async () => {
      await expectCode(h.store.listFeed({ after: 'nonsense', limit: 10 }), 'VALIDATION_FAILED');
      await expectCode(h.store.listFeed({ after: '1.2.3', limit: 10 }), 'VALIDATION_FAILED');
      await expectCode(h.store.listFeed({ limit: 0 }), 'VALIDATION_FAILED');
    });

    it('logs worker transitions: registered, silent, heard from again, deregistered', async () => {
      const w = await h.worker();
      h.clock += 60_000;
      expect(await h.store.markSilentWorkersOffline(30_000)).toBe(1);
      expect(await h.store.markSilentWorkersOffline(30_000)).toBe(0);
      await h.store.heartbeat(w, [], LEASE);
      await h.store.heartbeat(w, [], LEASE);
      await h.store.deregisterWorker(w);
      await h.store.deregisterWorker(w);
      const events = (await readAll(h.store, undefined, 100)).filter((e) => e.workerId === w);
      expect(events.map((e) => [e.type, e.data.reason])).toEqual([
        ['worker.online', WORKER_EVENT_REASONS.registered],
        ['worker.offline', WORKER_EVENT_REASONS.silent],
        ['worker.online', WORKER_EVENT_REASONS.seenAgain],
        ['worker.offline', WORKER_EVENT_REASONS.deregistered],
      ]);
      // A claim is a sign of life too.
      await h.claim(w, 1);
      expect((await readAll(h.store, events.at(-1)!.cursor, 100)).map((e) => [e.type, e.data.reason])).toEqual([['worker.online', WORKER_EVENT_REASONS.seenAgain]]);
    });

    it(`logs a task's progress at most every ${PROGRESS_EVENT_INTERVAL_MS} ms, with its detail`, async () => {
      const job = await h.submit();
      const w = await h.worker();
      const c = await h.claimOne(w);
      await h.store.reportProgress(ref(c, w), 0.1, { detail: { fps: 50 } });
      h.clock += PROGRESS_EVENT_INTERVAL_MS - 1;
      await h.store.reportProgress(ref(c, w), 0.2);
      h.clock += 1;
      await h.store.reportProgress(ref(c, w), 0.3);
      await h.store.acknowledge(w, { started: [{ taskId: c.taskId, attempt: c.attempt }] });
      const progress = (await readAll(h.store, undefined, 100, job.id)).filter((e) => e.type === 'task.progress');
      expect(progress.map((e) => e.data)).toEqual([{ attempt: 1, progress: 0.1, detail: { fps: 50 } }, { attempt: 1, progress: 0.3 }]);
    });

    it('a reader following the feed while two connections write sees every event exactly once', async () => {
      const other = await h.open(h.store);
      const w1 = await h.worker(h.store, 'a');
      const w2 = await h.worker(other, 'b');
      const seen: FeedEvent[] = [];
      let cursor: string | undefined;
      const follow = async (): Promise<void> => {
        const events = await h.store.listFeed({ limit: 7, ...(cursor !== undefined && { after: cursor }) });
        seen.push(...events);
        if (events.length > 0) cursor = events.at(-1)!.cursor;
      };
      // Each side its own kind, so each claim finds the job its side just created.
      const write = async (s: Store, w: string, kind: string, n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          await s.createJob(newJob({ kind }));
          const [c] = await s.claimTasks({ workerId: w, kinds: [kind], max: 1, leaseMs: LEASE });
          await s.completeTask(ref(c!, w), null);
        }
      };
      let writing = true;
      const writers = Promise.all([write(h.store, w1, 'probe', 25), write(other, w2, 'thumbnail', 25)]).finally(() => (writing = false));
      // A turn of the event loop per read: a SQLite store answers without one, and would starve the writers.
      while (writing) {
        await follow();
        await new Promise((r) => setImmediate(r));
      }
      await writers;
      for (let i = 0; i < 20; i++) await follow();
      const everything = await readAll(h.store, undefined, 1000);
      expect(seen.map((e) => e.id)).toEqual(everything.map((e) => e.id));
      expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
      expect(everything.filter((e) => e.type === 'job.completed').length).toBe(50);
    });

    it('latestFeedCursor points at the newest event: reading after it gives what comes next', async () => {
      const fresh = await h.store.latestFeedCursor();
      const job = await h.submit();
      const latest = await h.store.latestFeedCursor();
      expect(latest).not.toBe(fresh);
      expect(await h.store.listFeed({ after: latest!, limit: 10 })).toEqual([]);
      await h.store.cancelJob(job.id, 1_000);
      expect((await h.store.listFeed({ after: latest!, limit: 10 })).map((e) => e.type)).toEqual(['job.cancel_requested', 'task.canceled', 'job.canceled']);
    });

    it('a singleton is held by one holder at a time, renewed by it, taken over when it expires or is released', async () => {
      expect(await h.store.holdSingleton('mqtt', 'a', 10_000)).toEqual({ held: true, cursor: null });
      expect(await h.store.holdSingleton('mqtt', 'b', 10_000)).toEqual({ held: false, cursor: null });
      expect(await h.store.saveSingletonCursor('mqtt', 'a', 'c1')).toBe(true);
      expect(await h.store.saveSingletonCursor('mqtt', 'b', 'c2')).toBe(false);
      h.clock += 9_000;
      expect(await h.store.holdSingleton('mqtt', 'a', 10_000)).toEqual({ held: true, cursor: 'c1' });
      h.clock += 9_000;
      expect((await h.store.holdSingleton('mqtt', 'b', 10_000)).held).toBe(false);
      h.clock += 1_001;
      expect(await h.store.holdSingleton('mqtt', 'b', 10_000)).toEqual({ held: true, cursor: 'c1' });
      expect(await h.store.saveSingletonCursor('mqtt', 'a', 'stale')).toBe(false);
      await h.store.releaseSingleton('mqtt', 'b');
      expect(await h.store.holdSingleton('mqtt', 'a', 10_000)).toEqual({ held: true, cursor: 'c1' });
      expect((await h.store.holdSingleton('other', 'b', 10_000)).held).toBe(true);
    });

    it('rings onEventsAppended after a write that appended events', async () => {
      const w = await h.worker();
      let rang = 0;
      const off = h.store.onEventsAppended(() => rang++);
      try {
        const before = rang;
        await h.submit();
        await h.claimOne(w);
        const deadline = Date.now() + 5_000;
        while (rang === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(rang).toBeGreaterThan(before);
      } finally {
        off();
      }
    });
  });
}
