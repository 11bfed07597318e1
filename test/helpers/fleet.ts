// A real coordinator (SQLite file, local store, HTTP on a loopback port) and real worker agents
// in this process, in a fresh temp directory per fleet.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VidfleetClient } from '../../src/client/api-client.js';
import type { CoordinatorOptions } from '../../src/coordinator/config.js';
import { startCoordinator, type RunningCoordinator } from '../../src/coordinator/server.js';
import type { MountPoint } from '../../src/media/logical-paths.js';
import { WorkerAgent } from '../../src/worker/agent.js';
import { isTerminalJobStatus, type Job } from '../../src/protocol/index.js';

export interface TestFleet {
  dir: string;
  coordinator: RunningCoordinator;
  client: VidfleetClient;
  workers: WorkerAgent[];
  /** mounts/allowProtocols: what the raw ffmpeg kind may use on this worker (none by default). */
  addWorker(options?: { concurrency?: number; kinds?: string[]; tags?: string[]; mounts?: ReadonlyMap<string, MountPoint>; allowProtocols?: string[] }): Promise<WorkerAgent>;
  stop(): Promise<void>;
}

export async function startTestFleet(options: { workers?: number; concurrency?: number; coordinator?: CoordinatorOptions } = {}): Promise<TestFleet> {
  const dir = await mkdtemp(join(tmpdir(), 'vidfleet-test-'));
  const coordinator = await startCoordinator({ port: 0, dataDir: join(dir, 'data'), logLevel: (process.env.VIDFLEET_TEST_LOG as 'error' | undefined) ?? 'silent', shutdownGraceMs: 500, ...options.coordinator });
  const workers: WorkerAgent[] = [];
  const quiet = process.env.VIDFLEET_TEST_LOG
    ? (message: string, fields?: Record<string, unknown>): void => void process.stderr.write(`[worker] ${message} ${JSON.stringify(fields ?? {})}\n`)
    : (): void => {};
  const fleet: TestFleet = {
    dir,
    coordinator,
    client: new VidfleetClient(coordinator.url),
    workers,
    async addWorker(opts = {}) {
      const agent = new WorkerAgent(
        {
          coordinatorUrl: coordinator.url, concurrency: opts.concurrency ?? options.concurrency ?? 2, kinds: opts.kinds, tags: opts.tags, workDir: join(dir, `work-${workers.length}`), claimWaitSeconds: 5,
          mounts: opts.mounts ?? new Map(), allowProtocols: opts.allowProtocols ?? [],
        },
        quiet,
      );
      await agent.start();
      workers.push(agent);
      return agent;
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      await coordinator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < (options.workers ?? 0); i++) await fleet.addWorker();
  return fleet;
}

/** Long-polls until the job ends (completed, failed or canceled) and answers it. */
export async function untilFinished(client: VidfleetClient, id: string): Promise<Job> {
  for (;;) {
    const job = await client.getJob(id, 10);
    if (isTerminalJobStatus(job.status)) return job;
  }
}
