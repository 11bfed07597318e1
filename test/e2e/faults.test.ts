// Faults with real processes: workers killed with SIGKILL mid-task, and the coordinator killed
// and restarted under load (SQLite). Every job must still end completed, with exactly one
// artifact whose bytes are the ones the completing attempt made.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { isNetworkError } from '../../src/client/http.js';
import type { NoopResult } from '../../src/protocol/index.js';
import { startVidfleet, waitForOutput, type Proc } from '../helpers/processes.js';

const procs: Proc[] = [];
let dir: string | undefined;

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function spawnTracked(args: string[]): Proc {
  const proc = startVidfleet(args);
  procs.push(proc);
  return proc;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function startCoordinatorProcess(dataDir: string, port: number, leaseMs: number): Promise<{ proc: Proc; url: string }> {
  const proc = spawnTracked(['coordinator', '--port', String(port), '--data', dataDir, '--lease-ms', String(leaseMs)]);
  const [, url] = await waitForOutput(proc, /listening on (http:\/\/\S+)/);
  return { proc, url: url! };
}

async function expectEveryJobCompletedOnce(client: VidfleetClient, ids: string[]): Promise<void> {
  for (const id of ids) {
    const job = await client.getJob(id, 60);
    expect(job.status, `${id}: ${JSON.stringify(job.error)}`).toBe('completed');
    const artifacts = await client.listArtifacts(id);
    expect(artifacts.map((a) => a.name)).toEqual(['noop.bin']);
    const chunks: Buffer[] = [];
    for await (const c of await client.downloadArtifact(id, 'noop.bin')) chunks.push(c as Buffer);
    const sha = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    expect(sha).toBe(artifacts[0]!.sha256);
    expect(sha).toBe((job.result as NoopResult).artifactSha256);
  }
}

async function isRunningOn(client: VidfleetClient, workerId: string): Promise<boolean> {
  const { jobs } = await client.listJobs({ status: 'running', limit: 50 });
  for (const job of jobs) {
    const full = await client.getJob(job.id);
    if (full.tasks?.some((t) => t.workerId === workerId && t.status === 'running')) return true;
  }
  return false;
}

describe('faults with real processes', () => {
  it('a worker killed with SIGKILL mid-task, 20 times over: every job completes, no artifact twice', async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-kill-'));
    const { url } = await startCoordinatorProcess(join(dir, 'data'), 0, 1500);
    const client = new VidfleetClient(url);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      // Requeued tasks are the oldest, so the same task can be hit many times: allow it.
      const job = await client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 1200, artifactBytes: 8192 }, maxAttempts: 30 });
      ids.push(job.id);
    }
    let kills = 0;
    while (kills < 20) {
      const worker = spawnTracked(['worker', '--coordinator', url, '--concurrency', '2', '--name', `victim-${kills}`]);
      const [, workerId] = await waitForOutput(worker, /"registered","workerId":"([^"]+)"/);
      // Kill it once it is running something (claims are immediate when tasks are pending).
      const deadline = Date.now() + 15_000;
      let running = false;
      while (!running && Date.now() < deadline) {
        running = await isRunningOn(client, workerId!);
        if (!running) await new Promise((r) => setTimeout(r, 50));
      }
      await worker.kill('SIGKILL');
      if (!running) break; // nothing was handed to it in 15 s: stop and let the test fail below
      kills++;
    }
    expect(kills).toBe(20);
    spawnTracked(['worker', '--coordinator', url, '--concurrency', '4', '--name', 'survivor']);
    await expectEveryJobCompletedOnce(client, ids);
    const attempts = await Promise.all(ids.map(async (id) => (await client.getJob(id)).tasks![0]!.attempt));
    expect(attempts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(ids.length + 20);
  }, 240_000);

  it('the coordinator killed with SIGKILL and restarted under load loses nothing', async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-restart-'));
    const dataDir = join(dir, 'data');
    const port = await freePort();
    let coordinator = await startCoordinatorProcess(dataDir, port, 3000);
    const client = new VidfleetClient(coordinator.url);
    for (let i = 0; i < 2; i++) spawnTracked(['worker', '--coordinator', coordinator.url, '--concurrency', '2', '--name', `w${i}`]);

    // A client that retries through the outage, with an idempotency key per job so a submit
    // whose answer was lost is not duplicated.
    const submit = async (i: number): Promise<string> => {
      for (;;) {
        try {
          return (await client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 150, artifactBytes: 2048 } }, { idempotencyKey: `load-${i}` })).id;
        } catch (err) {
          if (!isNetworkError(err)) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      if (i === 30) {
        await coordinator.proc.kill('SIGKILL');
        coordinator = await startCoordinatorProcess(dataDir, port, 3000);
      }
      ids.push(await submit(i));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(new Set(ids).size).toBe(60);
    await expectEveryJobCompletedOnce(client, ids);
    expect((await client.listJobs({ kind: 'noop', limit: 500 })).jobs).toHaveLength(60);
  }, 240_000);
});
