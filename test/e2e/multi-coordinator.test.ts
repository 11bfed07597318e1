// Two coordinators on one PostgreSQL schema, side by side: a task submitted through one wakes a
// worker long-polling the other (NOTIFY), and a client following the event stream of one sees
// the events of jobs the other ran.
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetClient } from '../../src/client/api-client.js';
import { startCoordinator, type RunningCoordinator } from '../../src/coordinator/server.js';
import type { FeedEvent } from '../../src/protocol/index.js';
import { WorkerAgent } from '../../src/worker/agent.js';
import { untilFinished } from '../helpers/fleet.js';
import { PgTestSchemas, pgAvailable } from '../helpers/postgres.js';

const pg = await pgAvailable();
const schemas = pg.url ? new PgTestSchemas(pg.url) : null;
if (!schemas) process.stderr.write(`[vidfleet tests] multi-coordinator on PostgreSQL skipped: ${pg.reason}\n`);

/** Far longer than any test here waits: a claim woken only by its re-check would time the test out. */
const RECHECK_MS = 120_000;

describe.skipIf(!schemas)('two coordinators on one PostgreSQL', () => {
  let dir: string;
  let a: RunningCoordinator;
  let b: RunningCoordinator;
  let worker: WorkerAgent;
  const clientA = () => new VidfleetClient(a.url);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-multi-'));
    const schema = schemas!.next();
    const common = { port: 0, db: pg.url!, dbSchema: schema, storeDir: join(dir, 'store'), logLevel: 'silent' as const, claimRecheckMs: RECHECK_MS, shutdownGraceMs: 500 };
    a = await startCoordinator({ ...common, dataDir: join(dir, 'a') });
    b = await startCoordinator({ ...common, dataDir: join(dir, 'b') });
    // The worker talks to B only, and long-polls longer than the test would wait.
    worker = new WorkerAgent({ coordinatorUrl: b.url, concurrency: 2, workDir: join(dir, 'w'), claimWaitSeconds: 25, mounts: new Map(), allowProtocols: [] }, () => {});
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await a?.close();
    await b?.close();
    await schemas?.dropAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a job submitted through A is claimed at once by a worker waiting on B's long poll", async () => {
    const client = clientA();
    try {
      // Let the worker's claim settle into its long poll on B first.
      await new Promise((r) => setTimeout(r, 300));
      const job = await client.submitJob({ kind: 'noop', input: 'none', params: {} });
      const done = await untilFinished(client, job.id);
      expect(done.status).toBe('completed');
      const events = (await client.listFeed({ jobId: job.id })).events;
      const created = Date.parse(events.find((e) => e.type === 'job.created')!.createdAt);
      const claimed = Date.parse(events.find((e) => e.type === 'task.claimed')!.createdAt);
      // Woken by the notification, not by the claim's re-check or the end of its long poll.
      expect(claimed - created).toBeLessThan(RECHECK_MS / 10);
    } finally {
      client.close();
    }
  });

  it("a client streaming B's events sees the jobs run through A", async () => {
    const viaA = clientA();
    const viaB = new VidfleetClient(b.url);
    try {
      const start = (await viaB.listFeed({ limit: 1000 })).cursor ?? undefined;
      const jobs = await Promise.all([viaA.submitJob({ kind: 'noop', input: 'none', params: {} }), viaA.submitJob({ kind: 'noop', input: 'none', params: {} })]);
      const seen: FeedEvent[] = [];
      for await (const e of viaB.followEvents({ ...(start !== undefined && { after: start }) })) {
        seen.push(e);
        if (jobs.every((j) => seen.some((s) => s.jobId === j.id && s.type === 'job.completed'))) break;
      }
      for (const j of jobs) {
        expect(seen.filter((e) => e.jobId === j.id).map((e) => e.type)).toEqual(['job.created', 'task.claimed', 'task.running', 'task.completed', 'job.completed']);
      }
    } finally {
      viaA.close();
      viaB.close();
    }
  });
});
