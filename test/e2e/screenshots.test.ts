// Screenshots through the whole system: artifacts stored and listed, params refused at
// submission, and a worker killed with SIGKILL mid-job — the next attempt gets the checkpoint
// from the coordinator and makes only what is missing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { fileUri, isTerminalJobStatus, VidfleetError, type ScreenshotsResult } from '../../src/protocol/index.js';
import { makeClip, makeInterlacedClip } from '../helpers/clips.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';
import { startVidfleet, waitForOutput, type Proc } from '../helpers/processes.js';

describe('screenshots end to end', () => {
  let fleet: TestFleet;
  beforeAll(async () => {
    fleet = await startTestFleet({ workers: 1, concurrency: 1 });
  });
  afterAll(() => fleet.stop());

  it('stores every image and returns the list', async () => {
    const job = await fleet.client.submitJob({ kind: 'screenshots', input: fileUri(await makeClip({ duration: 6 })), params: { count: 4, width: 160 } });
    const done = await fleet.client.getJob(job.id, 60);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const result = done.result as ScreenshotsResult;
    expect(result).toMatchObject({ mode: 'keyframe', made: 4, reused: 0 });
    const artifacts = await fleet.client.listArtifacts(job.id);
    expect(artifacts.map((a) => a.name).sort()).toEqual(['screenshot-001.jpg', 'screenshot-002.jpg', 'screenshot-003.jpg', 'screenshot-004.jpg']);
    expect(artifacts.every((a) => a.contentType === 'image/jpeg' && a.size > 200)).toBe(true);
  });

  it('refuses count and times together at submission', async () => {
    const err = await fleet.client.submitJob({ kind: 'screenshots', input: fileUri('/tmp/x.mp4'), params: { count: 2, times: [1] } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VidfleetError);
    expect(err).toMatchObject({ code: 'INVALID_PARAMS' });
  });
});

describe('screenshots after a worker is killed', () => {
  const procs: Proc[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const spawn = (args: string[]): Proc => {
    const p = startVidfleet(args);
    procs.push(p);
    return p;
  };

  it('the next attempt keeps what the killed one stored', async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-shots-'));
    const coordinator = spawn(['coordinator', '--port', '0', '--data', join(dir, 'data'), '--lease-ms', '1500']);
    const [, url] = await waitForOutput(coordinator, /listening on (http:\/\/\S+)/);
    const client = new VidfleetClient(url!);
    const job = await client.submitJob({ kind: 'screenshots', input: fileUri(await makeInterlacedClip()), params: { count: 60, mode: 'exact', width: 320 } });
    const victim = spawn(['worker', '--coordinator', url!, '--concurrency', '1', '--name', 'victim']);
    while ((await client.listArtifacts(job.id)).length < 12) await new Promise((r) => setTimeout(r, 25));
    await victim.kill('SIGKILL');
    const storedBefore = (await client.listArtifacts(job.id)).length;
    expect(storedBefore).toBeLessThan(60);

    spawn(['worker', '--coordinator', url!, '--concurrency', '1', '--name', 'survivor']);
    let done = await client.getJob(job.id, 60);
    for (let i = 0; i < 3 && !isTerminalJobStatus(done.status); i++) done = await client.getJob(job.id, 60);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.tasks?.[0]?.attempt).toBe(2);
    const result = done.result as ScreenshotsResult;
    expect(result.screenshots.map((s) => s.index)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // The checkpoint reaches the coordinator with progress reports, so it may trail the uploads a little.
    expect(result.reused).toBeGreaterThan(0);
    expect(result.reused).toBeLessThanOrEqual(storedBefore);
    expect(result.made).toBe(60 - result.reused);
    const names = (await client.listArtifacts(job.id)).map((a) => a.name);
    expect(new Set(names).size).toBe(60);
  }, 180_000);
});
