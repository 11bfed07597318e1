// The worker protocol over real HTTP, driven by hand: long-poll wake-up, lease expiry, and
// every write of a stale attempt refused with 409 while the current attempt's writes succeed.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VidfleetError, fileUri, type ClaimedTask } from '../../src/protocol/index.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';

const capabilities = { kinds: ['probe', 'thumbnail'], concurrency: 1, ffmpegVersion: 'test', encoders: [], hwaccels: [] };

let fleet: TestFleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

async function expectCode(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err, `expected ${code}`).toBeInstanceOf(VidfleetError);
  expect((err as VidfleetError).code).toBe(code);
  expect((err as VidfleetError).status).toBe(status);
}

describe('claim long poll', () => {
  it('wakes a waiting claim as soon as a task is enqueued', async () => {
    // The safety-net re-check is set far beyond the test timeout: only the wake-up can answer.
    fleet = await startTestFleet({ coordinator: { claimRecheckMs: 600_000, maxClaimWaitSeconds: 60 } });
    const { client } = fleet;
    const { workerId } = await client.registerWorker({ name: 'w', hostname: 'h', capabilities });
    const claim = client.claim(workerId, 1, 60);
    await new Promise((r) => setTimeout(r, 200)); // let the claim start waiting
    const job = await client.submitJob({ kind: 'probe', input: fileUri('/nonexistent.mp4') });
    const { tasks } = await claim;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ jobId: job.id, attempt: 1, kind: 'probe' });
  }, 20_000);

  it('answers an empty claim when nothing arrives in the wait', async () => {
    fleet = await startTestFleet();
    const { workerId } = await fleet.client.registerWorker({ name: 'w', hostname: 'h', capabilities });
    expect((await fleet.client.claim(workerId, 4, 0.3)).tasks).toEqual([]);
  });

  it('hands a task only to workers that run its kind', async () => {
    fleet = await startTestFleet();
    const { client } = fleet;
    const probeOnly = await client.registerWorker({ name: 'p', hostname: 'h', capabilities: { ...capabilities, kinds: ['probe'] } });
    await client.submitJob({ kind: 'thumbnail', input: fileUri('/x.mp4') });
    expect((await client.claim(probeOnly.workerId, 1, 0.2)).tasks).toEqual([]);
    const any = await client.registerWorker({ name: 'a', hostname: 'h', capabilities });
    expect((await client.claim(any.workerId, 1, 0.2)).tasks).toHaveLength(1);
  });

  it('asks an unknown worker to register again', async () => {
    fleet = await startTestFleet();
    await expectCode(fleet.client.claim('wkr_missing', 1, 0), 'WORKER_NOT_FOUND', 404);
    await expectCode(fleet.client.heartbeat('wkr_missing', []), 'WORKER_NOT_FOUND', 404);
    await expectCode(fleet.client.deregisterWorker('wkr_missing'), 'WORKER_NOT_FOUND', 404);
  });
});

describe('fencing', () => {
  it('refuses every write of an attempt whose lease expired and was re-claimed', async () => {
    fleet = await startTestFleet({ coordinator: { leaseMs: 400, heartbeatMs: 100, janitorIntervalMs: 50 } });
    const { client } = fleet;
    const a = await client.registerWorker({ name: 'a', hostname: 'h', capabilities });
    const b = await client.registerWorker({ name: 'b', hostname: 'h', capabilities });
    const job = await client.submitJob({ kind: 'probe', input: fileUri('/some/video.mp4') });

    const [first] = (await client.claim(a.workerId, 1, 1)).tasks as [ClaimedTask];
    expect(first.attempt).toBe(1);
    expect((await client.progress(a.workerId, first.taskId, { attempt: 1, progress: 0.2 })).state).toBe('ok');

    // Worker a goes silent; the janitor requeues the task and b claims attempt 2.
    const [second] = (await client.claim(b.workerId, 1, 10)).tasks as [ClaimedTask];
    expect(second).toMatchObject({ taskId: first.taskId, attempt: 2 });

    const artifactFile = join(fleet.dir, 'stale.json');
    await writeFile(artifactFile, '{"stale":true}');
    await expectCode(client.progress(a.workerId, first.taskId, { attempt: 1, progress: 0.5 }), 'STALE_ATTEMPT', 409);
    await expectCode(client.uploadArtifact({ workerId: a.workerId, taskId: first.taskId, attempt: 1 }, { name: 'probe.json', path: artifactFile, contentType: 'application/json' }), 'STALE_ATTEMPT', 409);
    await expectCode(client.complete(a.workerId, first.taskId, 1, { stale: true }), 'STALE_ATTEMPT', 409);
    await expectCode(client.fail(a.workerId, first.taskId, 1, { code: 'FFMPEG_FAILED', message: 'x', hint: 'x', retryable: true }), 'STALE_ATTEMPT', 409);
    // Attempt 2 held by the wrong worker is refused too.
    await expectCode(client.complete(a.workerId, first.taskId, 2, {}), 'STALE_ATTEMPT', 409);
    const beat = await client.heartbeat(a.workerId, [{ taskId: first.taskId, attempt: 1 }]);
    expect(beat.tasks[0]!.state).toBe('lost');

    // The current attempt's writes go through and the stale ones left no trace.
    const freshFile = join(fleet.dir, 'fresh.json');
    await writeFile(freshFile, '{"fresh":true}');
    await client.uploadArtifact({ workerId: b.workerId, taskId: first.taskId, attempt: 2 }, { name: 'probe.json', path: freshFile, contentType: 'application/json' });
    await client.complete(b.workerId, first.taskId, 2, { fresh: true });
    const done = await client.getJob(job.id);
    expect(done.status).toBe('completed');
    expect(done.result).toEqual({ fresh: true });
    const artifacts = await client.listArtifacts(job.id);
    expect(artifacts).toHaveLength(1);
    const chunks: Buffer[] = [];
    for await (const c of await client.downloadArtifact(job.id, 'probe.json')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('{"fresh":true}');
    // Writes after completion are refused as well.
    await expectCode(client.progress(b.workerId, first.taskId, { attempt: 2, progress: 1 }), 'STALE_ATTEMPT', 409);
  });

  it('a worker that dies mid-task loses the lease and the job still completes on another worker', async () => {
    fleet = await startTestFleet({ coordinator: { leaseMs: 400, heartbeatMs: 100, janitorIntervalMs: 50 } });
    const { client } = fleet;
    const ghost = await client.registerWorker({ name: 'ghost', hostname: 'h', capabilities });
    const job = await client.submitJob({ kind: 'probe', input: fileUri('/nonexistent/clip.mp4') });
    expect((await client.claim(ghost.workerId, 1, 1)).tasks).toHaveLength(1);
    await fleet.addWorker();
    const finished = await client.getJob(job.id, 30);
    // The input does not exist, so attempt 2 fails for good, but it ran on the live worker.
    expect(finished.status).toBe('failed');
    expect(finished.error?.code).toBe('INPUT_NOT_FOUND');
    expect(finished.tasks?.[0]?.attempt).toBe(2);
  });
});
