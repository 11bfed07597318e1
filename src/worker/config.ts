// Worker settings, parsed once.
import { realpathSync, statSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { MountPoint } from '../media/logical-paths.js';
import { ALLOWABLE_PROTOCOLS, INPUT_VARIABLE, OUT_VARIABLE, VARIABLE_NAME, type Credentials } from '../protocol/index.js';
import { credentialsFromEnv } from '../client/credentials.js';

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
  /** Logical path variables of raw ffmpeg commands: "media" → /srv/media ($media/…). */
  mounts: ReadonlyMap<string, MountPoint>;
  /** Network protocols raw ffmpeg commands may use (http, https, …); none by default. */
  allowProtocols: string[];
  /** Torrent cache: per info-hash metadata, piece store and bitfield, kept across tasks (default <workDir>/torrents). */
  torrentDir: string;
  /** Whether torrent jobs may use the mainline DHT (their `dht` param); off by default. */
  torrentAllowDht: boolean;
  /** The worker key requests are signed with (VIDFLEET_KEY / VIDFLEET_KEY_FILE by default); null: unsigned. */
  credentials: Credentials | null;
}

/** "a,b, c" → ["a", "b", "c"]; unset → []. */
function listOf(text: string | undefined): string[] {
  return (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * `--mount media=/srv/media` (read-only for jobs) or `exports=/srv/exports:rw` (jobs may write).
 * The directory must exist; its realpath is kept, so a symlinked mount point is fine.
 */
export function parseMounts(specs: readonly string[]): Map<string, MountPoint> {
  const mounts = new Map<string, MountPoint>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq);
    let path = spec.slice(eq + 1);
    const mode = /:(ro|rw)$/.exec(path)?.[1];
    if (mode) path = path.slice(0, -3);
    if (eq <= 0 || !VARIABLE_NAME.test(name)) throw new Error(`--mount expects name=/absolute/dir[:ro|:rw] with a lower-case name, got "${spec}"`);
    if (name === OUT_VARIABLE || name === INPUT_VARIABLE) throw new Error(`--mount ${name}=…: $${name} is reserved for ${name === OUT_VARIABLE ? "the attempt's output directory" : 'the job input'}; pick another name`);
    if (mounts.has(name)) throw new Error(`--mount ${name} is given twice`);
    if (!isAbsolute(path)) throw new Error(`--mount ${name}=${path}: the directory must be an absolute path`);
    let real: string;
    try {
      real = realpathSync(path);
      if (!statSync(real).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new Error(`--mount ${name}=${path}: ${(err as Error).message.includes('not a directory') ? 'not a directory' : 'no such directory on this machine'}`);
    }
    mounts.set(name, { path: real, writable: mode === 'rw' });
  }
  return mounts;
}

export function parseAllowProtocols(names: readonly string[]): string[] {
  for (const name of names) {
    if (!(ALLOWABLE_PROTOCOLS as readonly string[]).includes(name)) {
      throw new Error(`--allow-protocol ${name}: not one of ${ALLOWABLE_PROTOCOLS.join(', ')} (file-like protocols such as concat:, file:, pipe: are never allowed)`);
    }
  }
  return [...new Set(names)];
}

export function parseWorkerConfig(options: Partial<WorkerConfig> & { coordinatorUrl: string }): WorkerConfig {
  const config: WorkerConfig = {
    // One URL, or several comma-separated (coordinators sharing one PostgreSQL): the worker
    // moves on to the next when one cannot be reached.
    coordinatorUrl: options.coordinatorUrl.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean).join(','),
    name: options.name ?? `${hostname()}-${process.pid}`,
    concurrency: options.concurrency ?? Math.max(1, Math.floor(availableParallelism() / 2)),
    kinds: options.kinds ?? null,
    workDir: options.workDir ?? join(tmpdir(), 'vidfleet-worker'),
    claimWaitSeconds: options.claimWaitSeconds ?? 20,
    torrentDir: options.torrentDir ?? process.env.VIDFLEET_TORRENT_DIR ?? join(options.workDir ?? join(tmpdir(), 'vidfleet-worker'), 'torrents'),
    torrentAllowDht: options.torrentAllowDht ?? process.env.VIDFLEET_TORRENT_DHT === '1',
    tags: [...new Set(options.tags ?? [])],
    mounts: options.mounts ?? parseMounts(listOf(process.env.VIDFLEET_MOUNTS)),
    allowProtocols: parseAllowProtocols(options.allowProtocols ?? listOf(process.env.VIDFLEET_ALLOW_PROTOCOLS)),
    credentials: options.credentials === undefined ? credentialsFromEnv() : options.credentials,
  };
  const badTag = config.tags.find((t) => !/^[A-Za-z0-9_.+-]{1,64}$/.test(t));
  if (badTag !== undefined) throw new Error(`--tag must be 1-64 letters, digits or _ . + -, got "${badTag}"`);
  if (config.coordinatorUrl === '' || !config.coordinatorUrl.split(',').every((u) => /^https?:\/\/[^\s,]+$/.test(u))) {
    throw new Error(`--coordinator must be an http(s) URL, or several separated by commas, got "${options.coordinatorUrl}"`);
  }
  if (!Number.isInteger(config.concurrency) || config.concurrency < 1 || config.concurrency > 256) {
    throw new Error(`--concurrency must be an integer 1-256, got ${options.concurrency}`);
  }
  return config;
}
