// Long-running commands: up (coordinator + local workers), coordinator, worker.
import { WorkerAgent } from '../../worker/agent.js';
import { parseAllowProtocols, parseMounts } from '../../worker/config.js';
import { startCoordinator } from '../../coordinator/server.js';
import { redact } from '../../coordinator/open-store.js';
import type { CoordinatorOptions } from '../../coordinator/config.js';
import { startLocalFleet } from '../local-fleet.js';
import { println, UsageError } from '../output.js';
import { intOption, type Parsed } from '../args.js';

/**
 * Where a coordinator listens and keeps its state: --port, --host, --data, --db (else
 * VIDFLEET_DB, else the SQLite file under --data) with --db-schema for PostgreSQL, and --storage
 * (else VIDFLEET_STORAGE, else store/ under --data); where it publishes events: --mqtt (else
 * VIDFLEET_MQTT) and --mqtt-prefix. S3 credentials come only from the AWS SDK's usual places
 * (environment, ~/.aws, instance roles), never from the command line, where other users could read them.
 */
function placeOptions(args: Parsed): CoordinatorOptions {
  const direct = args.values['s3-direct-downloads'] as boolean | undefined;
  return {
    port: intOption(args, 'port', 8000),
    host: args.values.host as string | undefined,
    dataDir: (args.values.data as string | undefined) ?? '.vidfleet',
    db: (args.values.db as string | undefined) ?? (process.env.VIDFLEET_DB || undefined),
    dbSchema: (args.values['db-schema'] as string | undefined) ?? (process.env.VIDFLEET_DB_SCHEMA || undefined),
    mqttUrl: (args.values.mqtt as string | undefined) ?? (process.env.VIDFLEET_MQTT || undefined),
    mqttPrefix: args.values['mqtt-prefix'] as string | undefined,
    storage: (args.values.storage as string | undefined) ?? (process.env.VIDFLEET_STORAGE || undefined),
    s3Endpoint: (args.values['s3-endpoint'] as string | undefined) ?? (process.env.VIDFLEET_S3_ENDPOINT || undefined),
    s3Region: (args.values['s3-region'] as string | undefined) ?? (process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined),
    s3DirectDownloads: direct ?? (/^(1|true|yes)$/i.test(process.env.VIDFLEET_S3_DIRECT_DOWNLOADS ?? '') || undefined),
  };
}

/** Where blobs go, for the start-up banner. */
function storageLine(config: { storage: string; s3Endpoint?: string; s3DirectDownloads: boolean }): string {
  if (!config.storage.startsWith('s3://')) return config.storage;
  return `${config.storage}${config.s3Endpoint ? ` at ${config.s3Endpoint}` : ''}${config.s3DirectDownloads ? ', direct downloads' : ''}`;
}

function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export async function upCommand(args: Parsed): Promise<number> {
  const fleet = await startLocalFleet({
    ...placeOptions(args),
    workers: intOption(args, 'workers', 2),
    workerConcurrency: intOption(args, 'concurrency', 1),
  });
  println(`vidfleet is up at ${fleet.coordinator.url} (dashboard: ${fleet.coordinator.url}/)`);
  println(`  data: ${fleet.coordinator.config.dataDir} (database ${redact(fleet.coordinator.config.db)}, files ${storageLine(fleet.coordinator.config)})`);
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
    ...placeOptions(args),
    retentionMs: args.values['retention-days'] === undefined ? undefined : intOption(args, 'retention-days', 7) * 24 * 3_600_000,
    leaseMs: args.values['lease-ms'] === undefined ? undefined : intOption(args, 'lease-ms', 30_000),
    maxUploadBytes: args.values['max-upload'] === undefined ? undefined : intOption(args, 'max-upload', 0),
    logLevel: 'info',
  });
  println(`vidfleet coordinator listening on ${coordinator.url} (data ${coordinator.config.dataDir}, files ${storageLine(coordinator.config)})`);
  await untilSignal();
  await coordinator.close();
  return 0;
}

export async function workerCommand(args: Parsed, coordinatorUrl: string): Promise<number> {
  const kinds = args.values.kinds as string | undefined;
  // --mount/--allow-protocol win over VIDFLEET_MOUNTS/VIDFLEET_ALLOW_PROTOCOLS (read by the config when absent).
  const mounts = args.values.mount as string[] | undefined;
  const protocols = (args.values['allow-protocol'] as string[] | undefined)?.flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  let raw: { mounts?: ReturnType<typeof parseMounts>; allowProtocols?: string[] };
  try {
    raw = { mounts: mounts?.length ? parseMounts(mounts) : undefined, allowProtocols: protocols?.length ? parseAllowProtocols(protocols) : undefined };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const agent = new WorkerAgent({
    coordinatorUrl,
    name: args.values.name as string | undefined,
    concurrency: args.values.concurrency === undefined ? undefined : intOption(args, 'concurrency', 1),
    kinds: kinds ? kinds.split(',').map((k) => k.trim()).filter(Boolean) : undefined,
    tags: (args.values.tag as string[] | undefined) ?? [],
    ...raw,
  });
  await agent.start();
  const drainMs = intOption(args, 'drain-timeout', 300) * 1000;
  const first = await untilSignal();
  // First signal: finish what runs (up to --drain-timeout s) without claiming more; a second
  // one hands the rest back at once. Nothing is lost either way: a handed-back task is retried
  // at once elsewhere, and one whose lease lapses is requeued by the janitor.
  process.stderr.write(`${first}: draining ${agent.runningTasks} running task(s); send it again to hand them back now\n`);
  void untilSignal().then(() => agent.handBack());
  await agent.stop({ drainMs });
  return 0;
}
