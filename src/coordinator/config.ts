// Coordinator settings, parsed and validated once at start. Every number has a sane default so
// `vidfleet up` needs no flags.
import { join, resolve } from 'node:path';

export interface CoordinatorConfig {
  host: string;
  port: number;
  /** Holds vidfleet.db (SQLite) and store/ (blobs). */
  dataDir: string;
  /** A SQLite file path, or a postgres:// URL (several coordinators may share one PostgreSQL). */
  db: string;
  /** PostgreSQL schema holding vidfleet's tables. */
  dbSchema: string;
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
  /** A canceled running task's worker has this long to stop and confirm before it is forced. */
  cancelGraceMs: number;
  /** How long an Idempotency-Key is remembered. */
  idempotencyTtlMs: number;
  /** A worker silent this long is shown offline. */
  workerOfflineMs: number;
  /** Finished jobs (rows, events, artifacts) are deleted this long after they end. */
  retentionMs: number;
  pruneIntervalMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /** An MQTT broker (mqtt://host:1883) to publish the event feed to; null: none. */
  mqttUrl: string | null;
  /** Topics are {mqttPrefix}/jobs/{id} and {mqttPrefix}/workers/{id}. */
  mqttPrefix: string;
  /** Seals key secrets at rest (hex or base64 of 32 bytes); null: DATA/master.key, made on first start. */
  masterKey: string | null;
  /** Jobs a client key may submit per minute (429 with Retry-After beyond); 0: no limit. */
  maxJobsPerMinute: number;
}

export type CoordinatorOptions = Partial<CoordinatorConfig>;

const GiB = 1024 ** 3;

export function parseCoordinatorConfig(options: CoordinatorOptions = {}): CoordinatorConfig {
  const dataDir = resolve(options.dataDir ?? '.vidfleet');
  const config: CoordinatorConfig = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8000,
    dataDir,
    db: options.db ?? join(dataDir, 'vidfleet.db'),
    dbSchema: options.dbSchema ?? 'vidfleet',
    storeDir: options.storeDir ?? join(dataDir, 'store'),
    leaseMs: options.leaseMs ?? 30_000,
    // 3 s: a canceled task's worker hears of it within that even when ffmpeg reports nothing.
    heartbeatMs: options.heartbeatMs ?? Math.min(3_000, Math.floor((options.leaseMs ?? 30_000) / 3)),
    maxUploadBytes: options.maxUploadBytes ?? 20 * GiB,
    maxClaimWaitSeconds: options.maxClaimWaitSeconds ?? 30,
    janitorIntervalMs: options.janitorIntervalMs ?? Math.min(2_000, Math.max(50, Math.floor((options.leaseMs ?? 30_000) / 4))),
    claimRecheckMs: options.claimRecheckMs ?? 1_000,
    shutdownGraceMs: options.shutdownGraceMs ?? 5_000,
    retryBaseMs: options.retryBaseMs ?? 2_000,
    retryMaxMs: options.retryMaxMs ?? 5 * 60_000,
    cancelGraceMs: options.cancelGraceMs ?? 10_000,
    idempotencyTtlMs: options.idempotencyTtlMs ?? 24 * 3_600_000,
    workerOfflineMs: options.workerOfflineMs ?? Math.max(30_000, 3 * (options.heartbeatMs ?? 3_000)),
    retentionMs: options.retentionMs ?? 7 * 24 * 3_600_000,
    pruneIntervalMs: options.pruneIntervalMs ?? 60_000,
    logLevel: options.logLevel ?? 'warn',
    mqttUrl: options.mqttUrl ?? null,
    mqttPrefix: options.mqttPrefix ?? 'vidfleet',
    masterKey: options.masterKey ?? null,
    maxJobsPerMinute: options.maxJobsPerMinute ?? 0,
  };
  const problems: string[] = [];
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) problems.push(`port must be 0-65535, got ${config.port}`);
  for (const key of ['leaseMs', 'heartbeatMs', 'maxUploadBytes', 'janitorIntervalMs', 'claimRecheckMs', 'retryBaseMs', 'retryMaxMs', 'cancelGraceMs', 'idempotencyTtlMs', 'workerOfflineMs', 'retentionMs', 'pruneIntervalMs'] as const) {
    if (!Number.isFinite(config[key]) || config[key] <= 0) problems.push(`${key} must be a positive number, got ${config[key]}`);
  }
  if (config.heartbeatMs >= config.leaseMs) problems.push(`heartbeatMs (${config.heartbeatMs}) must be shorter than leaseMs (${config.leaseMs}) or every task would lose its lease`);
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(config.dbSchema)) problems.push(`dbSchema must be a plain lower-case identifier, got "${config.dbSchema}"`);
  if (config.mqttUrl !== null && !/^(mqtts?|wss?|tcp|tls):\/\/[^/\s]+/.test(config.mqttUrl)) problems.push(`mqttUrl must look like mqtt://host:1883 (or mqtts://, ws://, wss://), got "${config.mqttUrl}"`);
  if (!/^[^#+/\s][^#+\s]*$/.test(config.mqttPrefix) || config.mqttPrefix.endsWith('/')) problems.push(`mqttPrefix must be a topic prefix without wildcards (+, #) or a leading/trailing slash, got "${config.mqttPrefix}"`);
  if (!Number.isInteger(config.maxJobsPerMinute) || config.maxJobsPerMinute < 0) problems.push(`maxJobsPerMinute must be an integer >= 0 (0: no limit), got ${config.maxJobsPerMinute}`);
  if (problems.length > 0) throw new Error(`Invalid coordinator configuration: ${problems.join('; ')}`);
  return config;
}

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//.test(db);
}

/** Exponential backoff with jitter: attempt 1 waits ~base, attempt 2 ~2×base, … capped. */
export function retryDelayMs(config: Pick<CoordinatorConfig, 'retryBaseMs' | 'retryMaxMs'>, attempt: number): number {
  const exp = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.5 + Math.random() * 0.5));
}

/** Whether a listen address is reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
