// Long-running commands: up (coordinator + local workers), coordinator, worker.
import { WorkerAgent } from '../../worker/agent.js';
import { startCoordinator } from '../../coordinator/server.js';
import { startLocalFleet } from '../local-fleet.js';
import { println } from '../output.js';
import { intOption, type Parsed } from '../args.js';

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export async function upCommand(args: Parsed): Promise<number> {
  const fleet = await startLocalFleet({
    port: intOption(args, 'port', 8000),
    host: args.values.host as string | undefined,
    dataDir: (args.values.data as string | undefined) ?? '.vidfleet',
    workers: intOption(args, 'workers', 2),
    workerConcurrency: intOption(args, 'concurrency', 1),
  });
  println(`vidfleet is up at ${fleet.coordinator.url}`);
  println(`  data: ${fleet.coordinator.config.dataDir} (SQLite ${fleet.coordinator.config.dbPath}, files ${fleet.coordinator.config.storeDir})`);
  println(`  workers: ${fleet.workers.length} local process(es)`);
  println(`  try: VIDFLEET_URL=${fleet.coordinator.url} npx vidfleet submit thumbnail path/to/video.mp4 --wait`);
  println('Press Ctrl-C to stop.');
  await untilSignal();
  println('stopping…');
  await fleet.stop();
  return 0;
}

export async function coordinatorCommand(args: Parsed): Promise<number> {
  const coordinator = await startCoordinator({
    port: intOption(args, 'port', 8000),
    host: args.values.host as string | undefined,
    dataDir: (args.values.data as string | undefined) ?? '.vidfleet',
    leaseMs: args.values['lease-ms'] === undefined ? undefined : intOption(args, 'lease-ms', 30_000),
    maxUploadBytes: args.values['max-upload'] === undefined ? undefined : intOption(args, 'max-upload', 0),
    logLevel: 'info',
  });
  println(`vidfleet coordinator listening on ${coordinator.url} (data ${coordinator.config.dataDir})`);
  await untilSignal();
  await coordinator.close();
  return 0;
}

export async function workerCommand(args: Parsed, coordinatorUrl: string): Promise<number> {
  const kinds = args.values.kinds as string | undefined;
  const agent = new WorkerAgent({
    coordinatorUrl,
    name: args.values.name as string | undefined,
    concurrency: args.values.concurrency === undefined ? undefined : intOption(args, 'concurrency', 1),
    kinds: kinds ? kinds.split(',').map((k) => k.trim()).filter(Boolean) : undefined,
  });
  await agent.start();
  const first = await untilSignal();
  // First signal: hand running tasks back so another worker retries them at once. The store
  // keeps them safe either way (a lease that is not renewed expires and is requeued).
  void first;
  await agent.stop({ drain: false });
  return 0;
}
