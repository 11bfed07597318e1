// Coordinator settings, parsed and validated once at start. Every number has a sane default so
// `vidfleet up` needs no flags.
import { join, resolve } from 'node:path';

export interface CoordinatorConfig {
  host: string;
  port: number;
  /** Holds vidfleet.db (SQLite) and store/ (blobs). */
  dataDir: string;
  dbPath: string;
  storeDir: string;
  /** A claimed task is lost when no heartbeat renews it for this long. */
  leaseMs: number;
  heartbeatMs: number;
  maxUploadBytes: number;
  /** Upper bound on a claim's long poll, whatever the worker asks. */
  maxClaimWaitSeconds: number;
  janitorIntervalMs: number;
  /** A waiting claim re-reads the database this often even without a wake-up (the safety net). */
  claimRecheckMs: number;
  /** On shutdown, in-flight requests get this long to finish before their connections are cut. */
  shutdownGraceMs: number;
  /** First retry delay; doubles per attempt, with jitter, up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
}

export interface CoordinatorOptions extends Partial<Omit<CoordinatorConfig, 'dbPath' | 'storeDir'>> {
  dbPath?: string;
  storeDir?: string;
}

const GiB = 1024 ** 3;

export function parseCoordinatorConfig(options: CoordinatorOptions = {}): CoordinatorConfig {
  const dataDir = resolve(options.dataDir ?? '.vidfleet');
  const config: CoordinatorConfig = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8000,
    dataDir,
    dbPath: options.dbPath ?? join(dataDir, 'vidfleet.db'),
    storeDir: options.storeDir ?? join(dataDir, 'store'),
    leaseMs: options.leaseMs ?? 30_000,
    heartbeatMs: options.heartbeatMs ?? 10_000,
    maxUploadBytes: options.maxUploadBytes ?? 20 * GiB,
    maxClaimWaitSeconds: options.maxClaimWaitSeconds ?? 30,
    janitorIntervalMs: options.janitorIntervalMs ?? 2_000,
    claimRecheckMs: options.claimRecheckMs ?? 1_000,
    shutdownGraceMs: options.shutdownGraceMs ?? 5_000,
    retryBaseMs: options.retryBaseMs ?? 2_000,
    retryMaxMs: options.retryMaxMs ?? 5 * 60_000,
    logLevel: options.logLevel ?? 'warn',
  };
  const problems: string[] = [];
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) problems.push(`port must be 0-65535, got ${config.port}`);
  for (const key of ['leaseMs', 'heartbeatMs', 'maxUploadBytes', 'janitorIntervalMs', 'claimRecheckMs', 'retryBaseMs', 'retryMaxMs'] as const) {
    if (!Number.isFinite(config[key]) || config[key] <= 0) problems.push(`${key} must be a positive number, got ${config[key]}`);
  }
  if (config.heartbeatMs >= config.leaseMs) problems.push(`heartbeatMs (${config.heartbeatMs}) must be shorter than leaseMs (${config.leaseMs}) or every task would lose its lease`);
  if (problems.length > 0) throw new Error(`Invalid coordinator configuration: ${problems.join('; ')}`);
  return config;
}

/** Exponential backoff with jitter: attempt 1 waits ~base, attempt 2 ~2×base, … capped. */
export function retryDelayMs(config: Pick<CoordinatorConfig, 'retryBaseMs' | 'retryMaxMs'>, attempt: number): number {
  const exp = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.5 + Math.random() * 0.5));
}
