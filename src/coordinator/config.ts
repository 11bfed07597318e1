// Coordinator settings, parsed and validated once at start. Every number has a sane default so
// `vidfleet up` needs no flags.
import { join, resolve } from 'node:path';
import { isS3Url, parseS3Url } from '../storage/s3-location.js';

export interface CoordinatorConfig {
  host: string;
  port: number;
  /** Holds vidfleet.db (SQLite) and store/ (blobs, unless `storage` is S3). */
  dataDir: string;
  /** A SQLite file path, or a postgres:// URL (several coordinators may share one PostgreSQL). */
  db: string;
  /** PostgreSQL schema holding vidfleet's tables. */
  dbSchema: string;
  /**
   * Where uploads and artifacts live: a local directory (default dataDir/store), or
   * s3://bucket/optional/prefix for an S3-compatible bucket several coordinators can share.
   */
  storage: string;
  /** The local blob directory: `storage` when that is a directory (unused with S3). */
  storeDir: string;
  /** An S3-compatible server (http://127.0.0.1:9000 for MinIO); absent means AWS S3 itself. */
  s3Endpoint?: string;
  s3Region: string;
  /** Absent: the SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles). */
  s3AccessKeyId?: string;
  s3SecretAccessKey?: string;
  /** Downloads answer 302 to a presigned S3 URL instead of streaming through the coordinator. */
  s3DirectDownloads: boolean;
  /** How long a presigned download URL stays valid (ffmpeg keeps seeking in it for a whole task). */
  s3PresignTtlSeconds: number;
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
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

export function parseCoordinatorConfig(options: CoordinatorOptions = {}): CoordinatorConfig {
  const dataDir = resolve(options.dataDir ?? '.vidfleet');
  const storage = options.storage ?? options.storeDir ?? join(dataDir, 'store');
  // A URL (s3://…, or a scheme storageProblems refuses) is kept as written, anything else is a directory.
  const isUrl = isS3Url(storage) || URL_LIKE.test(storage);
  const config: CoordinatorConfig = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8000,
    dataDir,
    db: options.db ?? join(dataDir, 'vidfleet.db'),
    dbSchema: options.dbSchema ?? 'vidfleet',
    storage: isUrl ? storage : resolve(storage),
    storeDir: isUrl ? resolve(options.storeDir ?? join(dataDir, 'store')) : resolve(storage),
    s3Endpoint: options.s3Endpoint || undefined,
    s3Region: options.s3Region || 'us-east-1',
    s3AccessKeyId: options.s3AccessKeyId || undefined,
    s3SecretAccessKey: options.s3SecretAccessKey || undefined,
    s3DirectDownloads: options.s3DirectDownloads ?? false,
    s3PresignTtlSeconds: options.s3PresignTtlSeconds ?? 6 * 3_600,
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
  problems.push(...storageProblems(config));
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(config.dbSchema)) problems.push(`dbSchema must be a plain lower-case identifier, got "${config.dbSchema}"`);
  if (config.mqttUrl !== null && !/^(mqtts?|wss?|tcp|tls):\/\/[^/\s]+/.test(config.mqttUrl)) problems.push(`mqttUrl must look like mqtt://host:1883 (or mqtts://, ws://, wss://), got "${config.mqttUrl}"`);
  if (!/^[^#+/\s][^#+\s]*$/.test(config.mqttPrefix) || config.mqttPrefix.endsWith('/')) problems.push(`mqttPrefix must be a topic prefix without wildcards (+, #) or a leading/trailing slash, got "${config.mqttPrefix}"`);
  if (!Number.isInteger(config.maxJobsPerMinute) || config.maxJobsPerMinute < 0) problems.push(`maxJobsPerMinute must be an integer >= 0 (0: no limit), got ${config.maxJobsPerMinute}`);
  if (problems.length > 0) throw new Error(`Invalid coordinator configuration: ${problems.join('; ')}`);
  return config;
}

function storageProblems(config: CoordinatorConfig): string[] {
  const problems: string[] = [];
  if (isS3Url(config.storage)) {
    try {
      parseS3Url(config.storage);
    } catch (err) {
      problems.push(`storage: ${(err as Error).message}`);
    }
  } else if (URL_LIKE.test(config.storage)) {
    problems.push(`storage must be a directory or s3://bucket/prefix, got "${config.storage}"`);
  }
  if (config.s3Endpoint !== undefined) {
    let url: URL | null = null;
    try {
      url = new URL(config.s3Endpoint);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '') {
      problems.push(`s3Endpoint must be an http(s)://host:port URL without a path, got "${config.s3Endpoint}"`);
    }
  }
  if ((config.s3AccessKeyId === undefined) !== (config.s3SecretAccessKey === undefined)) {
    problems.push('s3AccessKeyId and s3SecretAccessKey go together; give both or neither');
  }
  if (config.s3DirectDownloads && !isS3Url(config.storage)) problems.push('s3DirectDownloads needs storage on S3 (s3://bucket/prefix)');
  if (!Number.isInteger(config.s3PresignTtlSeconds) || config.s3PresignTtlSeconds < 60 || config.s3PresignTtlSeconds > 7 * 24 * 3_600) {
    // SigV4 presigned URLs live at most 7 days.
    problems.push(`s3PresignTtlSeconds must be a whole number from 60 to 604800, got ${config.s3PresignTtlSeconds}`);
  }
  return problems;
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
