// Batched reports over real HTTP: a worker's started/completed reports ride on its claims or
// leave together on /acks, instead of one progress and one complete request per task.
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';

const capabilities = { kinds: ['noop'], concurrency: 4, ffmpegVersion: 'test', encoders: [], hwaccels: [] };

let fleet: TestFleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

describe('batched reports', () => {
  it('a busy worker reports in batches: no per-task progress/complete requests, fewer requests than tasks x 2', async () => {
    fleet = await startTestFleet();
    const requests = new Map<string, number>();
    fleet.coordinator.app.server.on('request', (req: IncomingMessage) => {
      const route = (req.url ?? '').replace(/\/v1\/workers\/[^/]+\/tasks\/[^/]+\//, '/task/').replace(/\/v1\/workers\/[^/]+\//, '/worker/');
      requests.set(route, (requests.get(route) ?? 0) + 1);
    });
    await fleet.addWorker({ concurrency: 8 });
    const n = 160;
    const jobs = await Promise.all(Array.from({ length: n }, () => fleet!.client.submitJob({ kind: 'noop', input: 'none://', params: {} })));
    const finished = await Promise.all(jobs.map((j) => untilFinished(fleet!.client, j.id)));
    expect(finished.every((j) => j.status === 'completed')).toBe(true);
    for (const job of finished) {
      const types = (await fleet.coordinator.store.listEvents(job.id)).map((e) => e.type);
      expect(types).toEqual(['job.created', 'task.claimed', 'task.running', 'task.completed', 'job.completed']);
    }
    expect(requests.get('/task/progress') ?? 0).toBe(0);
    expect(requests.get('/task/complete') ?? 0).toBe(0);
    const reportRequests = (requests.get('/worker/claim') ?? 0) + (requests.get('/worker/acks') ?? 0);
    // One by one this would be a claim, a progress and a complete per task (3n).
    expect(reportRequests).toBeLessThan(2 * n);
  });

  it('/acks and a claim carrying acks apply them at once and answer per attempt', async () => {
    fleet = await startTestFleet();
    const { client } = fleet;
    const { workerId } = await client.registerWorker({ name: 'by-hand', hostname: 'test', capabilities });
    const a = await client.submitJob({ kind: 'noop', input: 'none://', params: {} });
    const b = await client.submitJob({ kind: 'noop', input: 'none://', params: {} });
    const { tasks } = await client.claim(workerId, 2, 0);
    expect(tasks).toHaveLength(2);
    const [ta, tb] = tasks as [(typeof tasks)[0], (typeof tasks)[0]];
    const refOf = (t: typeof ta) => ({ taskId: t.taskId, attempt: t.attempt });

    expect(await client.acknowledge(workerId, { started: [refOf(ta), refOf(tb)] })).toEqual([
      { ...refOf(ta), state: 'ok' },
      { ...refOf(tb), state: 'ok' },
    ]);
    // Nothing is left to claim: the claim long-polls, but the reports it carries apply at once
    // (the jobs complete while it waits) and their answers come back with it.
    const claim = client.claim(workerId, 2, 2, undefined, { completed: [{ ...refOf(ta), result: { ok: 1 } }, { ...refOf(tb), result: null }] });
    expect((await client.getJob(a.id, 10)).status).toBe('completed');
    let settled = false;
    void claim.finally(() => (settled = true));
    expect(settled).toBe(false);
    expect(await claim).toEqual({ tasks: [], acks: [{ ...refOf(ta), state: 'ok' }, { ...refOf(tb), state: 'ok' }] });
    expect((await client.getJob(b.id)).result).toBeNull();
    // A stranger's reports change nothing.
    const other = await client.registerWorker({ name: 'other', hostname: 'test', capabilities });
    expect(await client.acknowledge(other.workerId, { completed: [{ ...refOf(ta), result: 'stolen' }] })).toEqual([{ ...refOf(ta), state: 'lost' }]);
    expect((await client.getJob(a.id)).result).toEqual({ ok: 1 });
  });

  it('refuses a malformed batch with 400', async () => {
    fleet = await startTestFleet();
    const { workerId } = await fleet.client.registerWorker({ name: 'by-hand', hostname: 'test', capabilities });
    await expect(fleet.client.acknowledge(workerId, { started: [{ taskId: 'x', attempt: 0 }] })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
  });
});
