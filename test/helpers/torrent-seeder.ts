// Real BitTorrent seeders for the torrent source's tests: each runs in its own process
// (torrent-seeder-child.mjs, webtorrent) on 127.0.0.1, with no trackers, DHT, LSD or uTP, so a
// test reaches it only through the address it is given, and SIGKILL makes it vanish the way a
// peer on the internet does. restart() brings it back on the same port with the same data.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './shared-media.js';

const CHILD = join(REPO_ROOT, 'test', 'helpers', 'torrent-seeder-child.mjs');

export const KiB = 1024;
export const MiB = 1024 * KiB;

export interface SeederInfo {
  infoHash: string;
  port: number;
  /** The .torrent file. */
  torrent: Buffer;
  pieceLength: number;
  pieces: number;
  files: { path: string; length: number; offset: number }[];
}

export interface SeederOptions {
  /** A file (single-file torrent) or a directory (multi-file torrent named after it). */
  path: string;
  /** 256 KiB, 1 MiB, 4 MiB, … (a power of two ≥ 16 KiB). */
  pieceLength: number;
  /** Listening port (default 0: a free one; restart() reuses the port it got). */
  port?: number;
  /** Upload rate limit in bytes per second (default unlimited). */
  uploadLimit?: number;
}

export interface Seeder {
  readonly info: SeederInfo;
  /** "127.0.0.1:port" */
  readonly address: string;
  readonly running: boolean;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again (after kill()) on the same port with the same data: same info-hash. */
  restart(): Promise<void>;
  /** Bytes it has sent to peers since it (re)started. */
  uploaded(): Promise<number>;
}

const live = new Set<ChildProcess>();

/** Kills every seeder still running (for afterAll). */
export async function killAllSeeders(): Promise<void> {
  await Promise.all([...live].map((c) => killChild(c)));
}

export async function startSeeder(opts: SeederOptions): Promise<Seeder> {
  let child: ChildProcess;
  let info: SeederInfo;
  let lines: string[] = [];
  let waiters: ((line: string) => void)[] = [];

  const launch = async (port: number): Promise<SeederInfo> => {
    lines = [];
    waiters = [];
    child = spawn(process.execPath, [CHILD, JSON.stringify({ ...opts, port })], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let stderr = '';
    let buf = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const w = waiters.shift();
        if (w) w(line);
        else lines.push(line);
      }
    });
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`seeder did not start in 30 s: ${stderr}`)), 30_000);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`seeder exited (${code ?? signal}) before seeding: ${stderr}`));
      });
      waiters.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
    const raw = JSON.parse(first) as Omit<SeederInfo, 'torrent'> & { torrent: string };
    return { ...raw, torrent: Buffer.from(raw.torrent, 'base64') };
  };

  info = await launch(opts.port ?? 0);
  const nextLine = (): Promise<string> => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiters.push(resolve)));

  return {
    get info() {
      return info;
    },
    get address() {
      return `127.0.0.1:${info.port}`;
    },
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    kill: () => killChild(child),
    async restart() {
      await killChild(child);
      const again = await launch(info.port);
      if (again.infoHash !== info.infoHash) throw new Error(`restarted seeder has info-hash ${again.infoHash}, was ${info.infoHash}`);
      info = again;
    },
    async uploaded() {
      child.stdin!.write('stats\n');
      return (JSON.parse(await nextLine()) as { uploaded: number }).uploaded;
    },
  };
}

function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * A directory to seed as a multi-file torrent: `files` maps a relative path to a file to copy
 * or to text content.
 */
export async function makeSeedDir(dir: string, files: Record<string, { copyOf: string } | { text: string }>): Promise<string> {
  for (const [rel, src] of Object.entries(files)) {
    const to = join(dir, rel);
    await mkdir(dirname(to), { recursive: true });
    if ('copyOf' in src) await copyFile(src.copyOf, to);
    else await writeFile(to, src.text);
  }
  return dir;
}
