// Worker settings, parsed once.
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WorkerConfig {
  coordinatorUrl: string;
  name: string;
  /** Tasks run at once. */
  concurrency: number;
  /** Kinds this worker offers; default: every kind it implements. */
  kinds: string[] | null;
  /** Parent of each attempt's scratch directory. */
  workDir: string;
  /** Long-poll length of each claim. */
  claimWaitSeconds: number;
  /** Labels jobs may require as tag:NAME (gpu, fast-disk, site-b). */
  tags: string[];
}

export function parseWorkerConfig(options: Partial<WorkerConfig> & { coordinatorUrl: string }): WorkerConfig {
  const config: WorkerConfig = {
    coordinatorUrl: options.coordinatorUrl.replace(/\/+$/, ''),
    name: options.name ?? `${hostname()}-${process.pid}`,
    concurrency: options.concurrency ?? Math.max(1, Math.floor(availableParallelism() / 2)),
    kinds: options.kinds ?? null,
    workDir: options.workDir ?? join(tmpdir(), 'vidfleet-worker'),
    claimWaitSeconds: options.claimWaitSeconds ?? 20,
    tags: [...new Set(options.tags ?? [])],
  };
  const badTag = config.tags.find((t) => !/^[A-Za-z0-9_.+-]{1,64}$/.test(t));
  if (badTag !== undefined) throw new Error(`--tag must be 1-64 letters, digits or _ . + -, got "${badTag}"`);
  if (!/^https?:\/\//.test(config.coordinatorUrl)) throw new Error(`--coordinator must be an http(s) URL, got "${options.coordinatorUrl}"`);
  if (!Number.isInteger(config.concurrency) || config.concurrency < 1 || config.concurrency > 256) {
    throw new Error(`--concurrency must be an integer 1-256, got ${options.concurrency}`);
  }
  return config;
}
