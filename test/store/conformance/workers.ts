// Workers: registration, goodbye, going silent and coming back.
import { describe, expect, it } from 'vitest';
import { CAPS, expectCode, iso, T0, type Harness } from './harness.js';

export function workerTests(h: Harness): void {
  describe('workers', () => {
    const statusOf = async (id: string) => (await h.store.getWorker(id))?.status;

    it('registers, reads and lists workers', async () => {
      const w = await h.store.registerWorker({ name: 'gpu-1', hostname: 'box', capabilities: CAPS });
      expect(w).toMatchObject({ name: 'gpu-1', hostname: 'box', status: 'online', capabilities: CAPS, registeredAt: iso(T0), lastHeartbeatAt: iso(T0) });
      expect(await h.store.getWorker(w.id)).toEqual(w);
      expect(await h.store.getWorker('wkr_nope')).toBeNull();
      expect((await h.store.listWorkers()).map((x) => x.id)).toContain(w.id);
    });

    it('a deregistered worker is offline until a heartbeat or a claim brings it back', async () => {
      const a = await h.worker(h.store, 'a');
      const b = await h.worker(h.store, 'b');
      h.clock += 1000;
      await h.store.deregisterWorker(a);
      expect(await h.store.getWorker(a)).toMatchObject({ status: 'offline', lastHeartbeatAt: iso(T0) });
      expect(Object.fromEntries((await h.store.listWorkers()).map((w) => [w.id, w.status]))).toEqual({ [a]: 'offline', [b]: 'online' });
      await h.store.heartbeat(a, [], 1000);
      expect(await h.store.getWorker(a)).toMatchObject({ status: 'online', lastHeartbeatAt: iso(T0 + 1000) });
      await h.store.deregisterWorker(a);
      h.clock += 1000;
      expect(await h.claim(a, 1)).toEqual([]); // nothing to claim; still a sign of life
      expect(await h.store.getWorker(a)).toMatchObject({ status: 'online', lastHeartbeatAt: iso(T0 + 2000) });
      await expectCode(h.store.deregisterWorker('wkr_unknown'), 'WORKER_NOT_FOUND');
    });

    it('a worker that says goodbye holding a task loses it to the next janitor pass', async () => {
      const job = await h.submit();
      const w = await h.worker();
      await h.claimOne(w);
      h.clock += 1000;
      await h.store.deregisterWorker(w);
      expect(await h.store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0, canceled: 0 });
      expect(await h.task(job.id)).toMatchObject({ status: 'pending', attempt: 1, error: { code: 'WORKER_LOST' } });
    });

    it('marks workers silent for silentMs offline, counting each once', async () => {
      const a = await h.worker(h.store, 'a');
      h.clock += 10_000;
      const b = await h.worker(h.store, 'b');
      h.clock += 20_000; // a silent 30 s, b 20 s
      expect(await h.store.markSilentWorkersOffline(30_001)).toBe(0);
      expect(await h.store.markSilentWorkersOffline(30_000)).toBe(1);
      expect([await statusOf(a), await statusOf(b)]).toEqual(['offline', 'online']);
      expect(await h.store.markSilentWorkersOffline(30_000)).toBe(0);
      expect(await h.store.markSilentWorkersOffline(20_000)).toBe(1);
      expect([await statusOf(a), await statusOf(b)]).toEqual(['offline', 'offline']);
      await h.store.heartbeat(a, [], 1000);
      await h.claim(b, 1);
      expect([await statusOf(a), await statusOf(b)]).toEqual(['online', 'online']);
      expect(await h.store.markSilentWorkersOffline(1)).toBe(0);
      await expectCode(h.store.markSilentWorkersOffline(-1), 'VALIDATION_FAILED');
    });
  });
}
