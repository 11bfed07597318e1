// bench/dispatch child: one worker process for BullMQ or pg-boss, the counterpart of one
// `vidfleet worker` process. It runs no-op tasks `concurrency` at a time and returns, as the
// task's result, the moment it started the task (stored by the queue, read back by the bench).
import { Worker } from 'bullmq';
import PgBoss from 'pg-boss';
import { childConfig, reportReady, reportStartFailure, serveChild, wallMs, type WorkerTarget } from './common.js';

export interface NoopOutput {
  startedAt: number;
}

const run = async (): Promise<NoopOutput> => ({ startedAt: wallMs() });

async function start(target: WorkerTarget): Promise<() => Promise<void>> {
  if (target.system === 'bullmq') {
    const { host, port, prefix, queue } = target.redis;
    // Defaults otherwise: jobs are kept after completion, as vidfleet keeps its rows.
    const worker = new Worker(queue, run, { connection: { host, port, maxRetriesPerRequest: null }, prefix, concurrency: target.concurrency });
    worker.on('error', (err) => process.stderr.write(`bullmq worker: ${String(err)}\n`));
    await worker.waitUntilReady();
    return () => worker.close();
  }
  const { connectionString, schema, queue } = target.pg;
  const boss = new PgBoss({ connectionString, schema, supervise: false, schedule: false, migrate: false, max: target.concurrency + 2 });
  boss.on('error', (err) => process.stderr.write(`pg-boss worker: ${String(err)}\n`));
  await boss.start();
  // pg-boss 10 has no per-worker concurrency setting: `concurrency` fetch loops, one job each,
  // is `concurrency` tasks in flight (as BullMQ's concurrency and vidfleet's --concurrency),
  // and gives the lowest pickup latency the polling design allows (loops poll out of phase).
  // Each loop polls at pg-boss's minimum interval, 0.5 s.
  for (let i = 0; i < target.concurrency; i++) {
    await boss.work<{ tag: string }>(queue, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async () => run());
  }
  return () => boss.stop({ graceful: true, wait: true, close: true, timeout: 5_000 });
}

async function main(): Promise<void> {
  const target = childConfig<WorkerTarget>();
  let close: () => Promise<void>;
  try {
    close = await start(target);
  } catch (err) {
    reportStartFailure(err);
  }
  serveChild(async () => null, () => close());
  reportReady();
}

void main();
