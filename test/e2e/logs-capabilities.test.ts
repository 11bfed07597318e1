// Task logs over real HTTP (shipped by the worker, read and followed by a client, the tail kept
// across a coordinator restart) and capability matching (a task goes only to a worker that has
// what it requires; a job nobody can run says so).
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { startCoordinator } from '../../src/coordinator/server.js';
import { fileUri, type Job } from '../../src/protocol/index.js';
import { describeDetail } from '../../src/cli/commands/jobs.js';
import { estimateEta } from '../../src/worker/task-runner.js';
import { LogShipper } from '../../src/worker/log-shipper.js';
import { makeClip } from '../helpers/clips.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';

let fleet: TestFleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

describe('task logs', () => {
  it('a thumbnail job logs its ffmpeg command; clients page through the lines and follow new ones', async () => {
    fleet = await startTestFleet({ workers: 1 });
    const clip = await makeClip({ duration: 2 });
    const job = await fleet.client.submitJob({ kind: 'thumbnail', input: fileUri(clip), params: { time: 1 } });
    // Follow mode answers as soon as lines exist (or the job ends).
    const first = await fleet.client.jobLogs(job.id, { wait: 30 });
    expect(first.lines.length).toBeGreaterThan(0);
    expect((await untilFinished(fleet.client, job.id)).status).toBe('completed');
    const all = await fleet.client.jobLogs(job.id);
    const text = all.lines.map((l) => l.line).join('\n');
    expect(text).toMatch(/^ffmpeg -hide_banner .* -ss 1\.000000 -i /m);
    expect(all.lines.every((l) => l.taskId === job.tasks?.[0]?.id && l.attempt === 1)).toBe(true);
    expect(all.next).toBe(all.lines.at(-1)!.id);
    const rest = await fleet.client.jobLogs(job.id, { after: all.lines[0]!.id });
    expect(rest.lines.map((l) => l.id)).toEqual(all.lines.slice(1).map((l) => l.id));
    // Nothing more will come for a finished job: follow answers at once, empty.
    expect((await fleet.client.jobLogs(job.id, { after: all.next, wait: 30 })).lines).toEqual([]);
    await expect(fleet.client.jobLogs('job_nope')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND', status: 404 });
  });

  it('keeps the log tail while the coordinator is away and delivers it when it is back', async () => {
    fleet = await startTestFleet();
    const { coordinator } = fleet;
    const port = Number(new URL(coordinator.url).port);
    const client = new VidfleetClient(coordinator.url);
    const { workerId } = await client.registerWorker({ name: 'by-hand', hostname: 'test', capabilities: { kinds: ['noop'], concurrency: 1, ffmpegVersion: 't', encoders: [], hwaccels: [] } });
    const job = await client.submitJob({ kind: 'noop', input: 'none', params: {} });
    const [task] = (await client.claim(workerId, 1, 0)).tasks;
    const shipper = new LogShipper({ send: (lines) => client.appendTaskLogs(workerId, task!.taskId, { attempt: task!.attempt, lines }), intervalMs: 50, log: () => {} });
    shipper.push('before the outage');
    await shipper.close(0);

    await coordinator.close();
    const during = new LogShipper({ send: (lines) => client.appendTaskLogs(workerId, task!.taskId, { attempt: task!.attempt, lines }), intervalMs: 50, log: () => {} });
    for (let i = 0; i < 5; i++) during.push(`during ${i}`);
    expect(await during.flush()).toBe(false); // unreachable: kept
    const closing = during.close(30_000);
    const back = await startCoordinator({ port, dataDir: join(fleet.dir, 'data'), logLevel: 'silent' });
    try {
      await closing;
      const lines = (await client.jobLogs(job.id)).lines.map((l) => l.line);
      expect(lines).toEqual(['before the outage', 'during 0', 'during 1', 'during 2', 'during 3', 'during 4']);
    } finally {
      client.close();
      await back.close();
    }
  });
});

describe('live progress detail', () => {
  it('a running task shows an ETA (and what the kind reports) to clients, and `vidfleet watch` text has it', async () => {
    fleet = await startTestFleet({ workers: 1 });
    const job = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 4000 } });
    let seen: Job | null = null;
    for (let j = await fleet.client.getJob(job.id); !['completed', 'failed'].includes(j.status); j = await fleet.client.getJob(job.id)) {
      if (j.tasks?.[0]?.progressDetail?.etaSeconds !== undefined) seen ??= j;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen, 'an ETA while it ran').not.toBeNull();
    const eta = seen!.tasks![0]!.progressDetail!.etaSeconds!;
    expect(eta).toBeGreaterThan(0);
    expect(eta).toBeLessThan(10);
    expect(describeDetail(seen!)).toMatch(/^ ETA 0:0\d$/);
    expect((await fleet.client.getJob(job.id)).tasks?.[0]?.progressDetail).toBeNull();
  });

  it('estimates the time left from the pace so far', () => {
    expect(estimateEta(500, 0.5)).toBeNull(); // too early to tell
    expect(estimateEta(10_000, 0.005)).toBeNull();
    expect(estimateEta(10_000, 0.25)).toBe(30);
    expect(estimateEta(10_000, 1)).toBeNull();
  });
});

describe('capability matching', () => {
  it('a job that requires a tag waits, saying why, until a worker with the tag comes; only that worker runs it', async () => {
    fleet = await startTestFleet();
    const plain = await fleet.addWorker({ kinds: ['noop'] });
    const job = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: {}, requires: ['tag:gpu'] });
    expect(job.tasks?.[0]?.requires).toEqual(['tag:gpu']);
    expect(job.waitingFor).toMatch(/needs tag:gpu; none of the 1 online noop worker\(s\) has all of them \(the closest lacks tag:gpu\)/);
    // An ordinary job still runs on the plain worker meanwhile.
    const other = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: {} });
    expect((await untilFinished(fleet.client, other.id)).tasks?.[0]?.workerId).toBe(plain.id);
    expect((await fleet.client.getJob(job.id)).status).toBe('pending');

    const gpu = await fleet.addWorker({ kinds: ['noop'], tags: ['gpu'] });
    const done = await untilFinished(fleet.client, job.id);
    expect(done.status).toBe('completed');
    expect(done.tasks?.[0]?.workerId).toBe(gpu.id);
    expect(done.waitingFor).toBeUndefined();
  });

  it('derives requirements from params (WebP needs libwebp) and refuses malformed ones with 400', async () => {
    fleet = await startTestFleet({ workers: 1 });
    const clip = await makeClip({ duration: 1 });
    const webp = await fleet.client.submitJob({ kind: 'thumbnail', input: fileUri(clip), params: { time: 0.5, format: 'webp' } });
    expect(webp.tasks?.[0]?.requires).toEqual(['encoder:libwebp']);
    expect((await untilFinished(fleet.client, webp.id)).status).toBe('completed'); // Debian's ffmpeg has libwebp
    await expect(fleet.client.submitJob({ kind: 'noop', input: 'none', requires: ['gpu'] })).rejects.toMatchObject({ status: 400 });
    // An encoder this machine's ffmpeg does not have.
    const nobody = await fleet.client.submitJob({ kind: 'noop', input: 'none', requires: ['encoder:h264_nvenc_test_absent'] });
    expect((await fleet.client.getJob(nobody.id)).waitingFor).toMatch(/encoder:h264_nvenc_test_absent/);
  });
});
