// Job lifecycle over real HTTP: idempotent submits, cancellation (pending, running, a running
// ffmpeg), priorities, and a worker's graceful drain.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { CoordinatorOptions } from '../../src/coordinator/config.js';
import { VidfleetError, type ClaimedTask } from '../../src/protocol/index.js';
import { startMediaServer } from '../helpers/clips.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';
import { PgTestSchemas, pgAvailable } from '../helpers/postgres.js';

// Every test runs against the coordinator on SQLite and on PostgreSQL (schema per fleet).
const pg = await pgAvailable();
const schemas = pg.url ? new PgTestSchemas(pg.url) : null;
if (!schemas) process.stderr.write(`[vidfleet tests] lifecycle on PostgreSQL skipped: ${pg.reason}\n`);
afterAll(async () => {
  await schemas?.dropAll();
});
const DATABASES: { name: string; db: () => CoordinatorOptions }[] = [
  { name: 'SQLite', db: () => ({}) },
  ...(schemas ? [{ name: 'PostgreSQL', db: (): CoordinatorOptions => ({ db: schemas.url, dbSchema: schemas.next() }) }] : []),
];

const capabilities = { kinds: ['probe', 'thumbnail', 'noop'], concurrency: 1, ffmpegVersion: 'test', encoders: [], hwaccels: [] };

let fleet: TestFleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Pids of running ffmpeg processes whose command line contains `token`. */
function ffmpegPidsWith(token: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.startsWith('ffmpeg') && cmd.includes(token)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

describe.each(DATABASES)('on $name', ({ db }) => {
  describe('idempotent submission', () => {
    it('20 concurrent submits with one key create exactly one job', async () => {
      fleet = await startTestFleet({ coordinator: db() });
      const body = { kind: 'noop', input: 'none', params: { sleepMs: 1 } };
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${fleet!.coordinator.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'batch-7' }, body: JSON.stringify(body) }),
        ),
      );
      const statuses = responses.map((r) => r.status).sort();
      const ids = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as { id: string }).id)));
      expect(ids.size).toBe(1);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(19);
      expect((await fleet.client.listJobs({ kind: 'noop' })).jobs).toHaveLength(1);
    });

    it('the same key with a different body is a 409; another key is another job', async () => {
      fleet = await startTestFleet({ coordinator: db() });
      const first = await fleet.client.submitJob({ kind: 'noop', input: 'none' }, { idempotencyKey: 'k1' });
      const again = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: {} }, { idempotencyKey: 'k1' });
      expect(again.id).toBe(first.id); // same request once defaults are applied
      const err = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 5 } }, { idempotencyKey: 'k1' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VidfleetError);
      expect((err as VidfleetError).code).toBe('IDEMPOTENCY_CONFLICT');
      expect((err as VidfleetError).status).toBe(409);
      const other = await fleet.client.submitJob({ kind: 'noop', input: 'none' }, { idempotencyKey: 'k2' });
      expect(other.id).not.toBe(first.id);
    });
  });

  describe('cancellation', () => {
    it('a pending job is canceled at once and never handed out', async () => {
      fleet = await startTestFleet({ coordinator: db() });
      const job = await fleet.client.submitJob({ kind: 'noop', input: 'none' });
      const canceled = await fleet.client.cancelJob(job.id);
      expect(canceled.status).toBe('canceled');
      const { workerId } = await fleet.client.registerWorker({ name: 'w', hostname: 'h', capabilities });
      expect((await fleet.client.claim(workerId, 5, 0.2)).tasks).toEqual([]);
      // Cancel is idempotent; a finished job cannot be canceled.
      expect((await fleet.client.cancelJob(job.id)).status).toBe('canceled');
      const done = await fleet.client.submitJob({ kind: 'noop', input: 'none' });
      await fleet.addWorker();
      expect((await fleet.client.getJob(done.id, 20)).status).toBe('completed');
      const err = await fleet.client.cancelJob(done.id).catch((e: unknown) => e);
      expect((err as VidfleetError).code).toBe('JOB_FINISHED');
    });

    it('a running task is stopped by its worker, which is free again afterwards', async () => {
      fleet = await startTestFleet({ workers: 1, concurrency: 1, coordinator: { ...db(), heartbeatMs: 300, leaseMs: 5_000 } });
      const { client } = fleet;
      const long = await client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 600_000, artifactBytes: 10 } });
      await waitFor('running', async () => (await client.getJob(long.id)).status === 'running');
      const canceling = await client.cancelJob(long.id);
      expect(['canceling', 'canceled']).toContain(canceling.status);
      const ended = await client.getJob(long.id, 20);
      expect(ended.status).toBe('canceled');
      expect(ended.tasks?.[0]?.status).toBe('canceled');
      expect(await client.listArtifacts(long.id)).toEqual([]);
      const next = await client.submitJob({ kind: 'noop', input: 'none' });
      expect((await client.getJob(next.id, 20)).status).toBe('completed');
    });

    it('canceling a thumbnail stuck on a stalled input kills its ffmpeg', async () => {
      fleet = await startTestFleet({ workers: 1, coordinator: { ...db(), heartbeatMs: 500, leaseMs: 5_000 } });
      const server = await startMediaServer();
      try {
        const token = `stall-${Date.now()}`;
        const job = await fleet.client.submitJob({ kind: 'thumbnail', input: `${server.url}/stall/${token}.mp4`, params: { time: 1 } });
        const pids = await waitFor('ffmpeg to start', async () => {
          const found = ffmpegPidsWith(token);
          return found.length > 0 ? found : null;
        });
        await fleet.client.cancelJob(job.id);
        // The worker hears of it at its next heartbeat, SIGTERMs ffmpeg (SIGKILL after 2 s).
        await waitFor('ffmpeg to exit', async () => ffmpegPidsWith(token).length === 0, 5_000);
        expect(pids.length).toBeGreaterThan(0);
        const ended = await fleet.client.getJob(job.id, 10);
        expect(ended.status).toBe('canceled');
        expect(await fleet.client.listArtifacts(job.id)).toEqual([]);
      } finally {
        await server.close();
      }
    });
  });

  describe('priorities', () => {
    it('hands out higher priority first, then older first', async () => {
      fleet = await startTestFleet({ coordinator: db() });
      const { client } = fleet;
      const low = await client.submitJob({ kind: 'noop', input: 'none', priority: -5 });
      const normalOld = await client.submitJob({ kind: 'noop', input: 'none' });
      const normalNew = await client.submitJob({ kind: 'noop', input: 'none' });
      const high = await client.submitJob({ kind: 'noop', input: 'none', priority: 10 });
      const { workerId } = await client.registerWorker({ name: 'w', hostname: 'h', capabilities });
      const order: string[] = [];
      for (let i = 0; i < 4; i++) order.push(...(await client.claim(workerId, 1, 0)).tasks.map((t: ClaimedTask) => t.jobId));
      expect(order).toEqual([high.id, normalOld.id, normalNew.id, low.id]);
    });
  });

  describe('graceful drain', () => {
    it('finishes running work, then deregisters', async () => {
      fleet = await startTestFleet({ workers: 1, concurrency: 1, coordinator: { ...db(), heartbeatMs: 300 } });
      const worker = fleet.workers[0]!;
      const job = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 1500 } });
      await waitFor('running', async () => (await fleet!.client.getJob(job.id)).status === 'running');
      await worker.stop({ drainMs: 30_000 });
      const done = await fleet.client.getJob(job.id);
      expect(done.status).toBe('completed');
      expect(done.tasks?.[0]?.attempt).toBe(1);
      const listed = (await fleet.client.listWorkers()).find((w) => w.id === worker.id);
      expect(listed?.status).toBe('offline');
    });

    it('hands running work back when the drain is cut short, and another worker takes it at once', async () => {
      fleet = await startTestFleet({ workers: 1, concurrency: 1, coordinator: { ...db(), heartbeatMs: 300 } });
      const first = fleet.workers[0]!;
      const job = await fleet.client.submitJob({ kind: 'noop', input: 'none', params: { sleepMs: 2000 } });
      await waitFor('running', async () => (await fleet!.client.getJob(job.id)).status === 'running');
      const stopping = first.stop({ drainMs: 60_000 });
      first.handBack();
      await stopping;
      const handedBack = await fleet.client.getJob(job.id);
      expect(handedBack.status).toBe('pending');
      expect(handedBack.tasks?.[0]?.error?.code).toBe('WORKER_SHUTDOWN');
      await fleet.addWorker();
      const done = await fleet.client.getJob(job.id, 20);
      expect(done.status).toBe('completed');
      expect(done.tasks?.[0]?.attempt).toBe(2);
    });
  });
});
