// Queue depth: taskCounts() counts the unfinished tasks by kind and state in one read (the
// coordinator's /metrics gauge), and leaves finished ones out.
import { describe, expect, it } from 'vitest';
import type { ClaimedTask } from '../../../src/protocol/index.js';
import type { NewTask } from '../../../src/store/store.js';
import { MAX_RUN, errorBody, ref, type Harness } from './harness.js';

const step = (name: string, after: string[] = []): NewTask => ({ kind: 'probe', input: 'store://uploads/clip.mp4', params: {}, maxAttempts: 2, maxRunMs: MAX_RUN, name, after });

export function countTests(h: Harness): void {
  describe('task counts', () => {
    const counts = async () => Object.fromEntries((await h.store.taskCounts()).map((c) => [`${c.kind} ${c.status}`, c.count]));

    it('counts pending, waiting, assigned, running and canceling tasks by kind; finished ones not at all', async () => {
      expect(await h.store.taskCounts()).toEqual([]);
      const canceled = await h.submit({ kind: 'thumbnail' });
      await h.submit({ kind: 'probe', tasks: 5, maxAttempts: 2 });
      await h.submit({ kind: 'thumbnail', tasks: 2 });
      const graph = (await h.store.createJob({ kind: 'transcode', input: 'store://uploads/clip.mp4', params: {}, priority: 0, tasks: [step('a'), step('b', ['a']), step('c', ['b'])] })).job;
      expect(await counts()).toEqual({ 'probe pending': 6, 'probe waiting': 2, 'thumbnail pending': 3 });

      const w = await h.worker();
      const [running, completed, retried] = (await h.claim(w, 4)) as [ClaimedTask, ClaimedTask, ClaimedTask, ClaimedTask];
      await h.store.reportProgress(ref(running, w), 0.5);
      await h.store.completeTask(ref(completed, w), null);
      await h.store.failTask(ref(retried, w), errorBody('FFMPEG_FAILED'), { retryDelayMs: 60_000 }); // pending again, in backoff
      const thumb = await h.claimOne(w, ['thumbnail']);
      expect(thumb.jobId).toBe(canceled.id);
      await h.store.reportProgress(ref(thumb, w), 0.1);
      await h.store.cancelJob(canceled.id, 10_000);
      expect(await counts()).toEqual({
        'probe pending': 3, // the fifth, the retried one (due later) and the graph's first step
        'probe waiting': 2,
        'probe assigned': 1,
        'probe running': 1,
        'thumbnail pending': 2,
        'thumbnail canceling': 1,
      });

      await h.store.cancelJob(graph.id, 10_000);
      expect(await counts()).toMatchObject({ 'probe pending': 2 });
      expect(Object.keys(await counts())).not.toContain('probe waiting');
    });
  });
}
