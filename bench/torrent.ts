// bench/torrent: 10 screenshots of a video inside a torrent, from a real seeder on loopback
// (webtorrent in a child process), at piece sizes 256 KiB, 1 MiB and 4 MiB. Two ways, each from
// a fresh torrent cache, in the same run:
//   engine  — the torrent-screenshots runner: metadata, index pieces, keyframe pieces only
//   bridge  — ffmpeg reading the torrent file through the bounded-range HTTP bridge
//             (startRangeBridge over the torrent reader): ffprobe for the duration, then the
//             10 keyframes grabbed the classic way (-skip_frame nokey -ss t -i url), one each
// Bytes are what the torrent client received from the seeder; the floor is the pieces covering
// the index and the keyframes (× pieceLength). Writes bench/RESULTS.md.
//
//   npm run bench:torrent            (-- --duration 60 --crf 20 to change the clip)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { torrentScreenshotsRunner } from '../src/media/kinds/torrent-screenshots.js';
import type { TaskContext } from '../src/media/kinds/kind.js';
import { parseTorrentInput, type TorrentScreenshotsResult } from '../src/protocol/index.js';
import { BRIDGE_INPUT_ARGS, startRangeBridge } from '../src/sources/ranged/range-bridge.js';
import { openTorrent, pickFile } from '../src/sources/torrent/index.js';
import { ffmpegVersionLine, machineLine, writeResultsSection } from './results.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '60' }, crf: { type: 'string', default: '20' } } });
const DURATION = Number(values.duration);
const COUNT = 10;
const KiB = 1024;
const MiB = 1024 * KiB;
const PIECES = [256 * KiB, 1 * MiB, 4 * MiB];

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error('cannot find the repository root');
}

function runTool(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-300)}`))));
  });
}

interface Seeder {
  child: ChildProcess;
  infoHash: string;
  address: string;
}

async function startSeeder(path: string, pieceLength: number): Promise<Seeder> {
  const child = spawn(process.execPath, [join(repoRoot(), 'test', 'helpers', 'torrent-seeder-child.mjs'), JSON.stringify({ path, pieceLength, port: 0 })], { stdio: ['pipe', 'pipe', 'pipe'] });
  const line = await new Promise<string>((ok, fail) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) ok(buf.slice(0, nl));
    });
    child.once('exit', (code) => fail(new Error(`seeder exited ${code}`)));
  });
  const info = JSON.parse(line) as { infoHash: string; port: number };
  return { child, infoHash: info.infoHash, address: `127.0.0.1:${info.port}` };
}

function stopSeeder(s: Seeder): Promise<void> {
  if (s.child.exitCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    s.child.once('exit', () => ok());
    s.child.kill('SIGKILL');
  });
}

interface Row {
  pieceLength: number;
  fileSize: number;
  floorPieces: number;
  floorBytes: number;
  engineBytes: number;
  enginePieces: number;
  engineMs: number;
  bridgeBytes: number;
  bridgePieces: number;
  bridgeServed: number;
  bridgeMs: number;
}

async function engine(infoHash: string, peer: string, dir: string): Promise<{ result: TorrentScreenshotsResult; ms: number }> {
  const workDir = join(dir, 'engine-work');
  await rm(workDir, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(workDir, { recursive: true }));
  const ctx: TaskContext = {
    input: infoHash,
    inputUri: infoHash,
    params: { count: COUNT, peers: [peer], width: 320 },
    workDir,
    resumeData: null,
    saveResumeData: () => undefined,
    signal: new AbortController().signal,
    onProgress: () => undefined,
    jobId: 'bench',
    downloadArtifact: () => Promise.reject(new Error('not in the bench')),
    emitArtifact: () => Promise.resolve(),
    log: () => undefined,
    toolLog: () => undefined,
    torrentDir: join(dir, 'engine-torrents'),
  };
  const started = performance.now();
  const result = (await torrentScreenshotsRunner.run(ctx)) as TorrentScreenshotsResult;
  return { result, ms: performance.now() - started };
}

async function bridge(infoHash: string, peer: string, dir: string): Promise<{ bytes: number; pieces: number; served: number; ms: number }> {
  const started = performance.now();
  const session = await openTorrent(parseTorrentInput(infoHash), { dataDir: join(dir, 'bridge-torrents'), peers: [peer], metadataTimeoutMs: 30_000 });
  try {
    const file = pickFile(session.metadata);
    const reader = session.fileReader(file.index);
    const b = await startRangeBridge(reader, { maxBytes: file.length * 4 });
    try {
      const out = await runTool('ffprobe', ['-v', 'error', ...BRIDGE_INPUT_ARGS, '-show_entries', 'format=duration', '-of', 'csv=p=0', b.url]);
      const duration = Number(out.trim());
      for (let i = 0; i < COUNT; i++) {
        const t = ((i + 0.5) * duration) / COUNT;
        await runTool('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...BRIDGE_INPUT_ARGS, '-skip_frame', 'nokey', '-ss', t.toFixed(3), '-i', b.url, '-frames:v', '1', '-an', '-sn', '-vf', 'scale=320:-2', join(dir, `bridge-${i}.jpg`)]);
      }
      const s = session.stats();
      return { bytes: s.bytesDownloaded, pieces: s.piecesFetched, served: b.bytesServed(), ms: performance.now() - started };
    } finally {
      await b.close();
    }
  } finally {
    await session.close();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vidfleet-bench-torrent-'));
  try {
    const clip = join(dir, 'clip.mp4');
    process.stderr.write(`making a ${DURATION} s 720p clip…\n`);
    await runTool('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=25:duration=${DURATION}`, '-f', 'lavfi', '-i', `sine=duration=${DURATION}`,
      '-c:v', 'libx264', '-preset', 'superfast', '-crf', values.crf!, '-g', '50', '-bf', '2', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', clip]);
    const size = (await stat(clip)).size;
    const rows: Row[] = [];
    for (const pieceLength of PIECES) {
      const seeder = await startSeeder(clip, pieceLength);
      try {
        const e = await engine(seeder.infoHash, seeder.address, join(dir, `p${pieceLength}`));
        const b = await bridge(seeder.infoHash, seeder.address, join(dir, `p${pieceLength}`));
        const c = e.result.cost;
        rows.push({
          pieceLength, fileSize: size, floorPieces: c.floorPieces, floorBytes: c.floorBytes,
          engineBytes: c.bytesFetched, enginePieces: c.piecesFetched, engineMs: e.ms,
          bridgeBytes: b.bytes, bridgePieces: b.pieces, bridgeServed: b.served, bridgeMs: b.ms,
        });
        process.stderr.write(`${pieceLength / KiB} KiB pieces: engine ${c.piecesFetched} pieces ${(c.bytesFetched / MiB).toFixed(2)} MiB in ${e.ms.toFixed(0)} ms; bridge ${b.pieces} pieces ${(b.bytes / MiB).toFixed(2)} MiB in ${b.ms.toFixed(0)} ms; floor ${c.floorPieces} pieces\n`);
      } finally {
        await stopSeeder(seeder);
      }
    }
    const mib = (n: number): string => (n / MiB).toFixed(2);
    const pct = (n: number): string => ((100 * n) / size).toFixed(1) + ' %';
    const lines = [
      `${machineLine()}; ${await ffmpegVersionLine()}; ${new Date().toISOString().slice(0, 10)}.`,
      '',
      `10 screenshots (evenly spaced, keyframes, 320 px JPEG) of a ${DURATION} s 1280x720 H.264 faststart MP4 (${mib(size)} MiB, keyframe every 2 s), seeded by a webtorrent process on loopback; each way starts from an empty torrent cache and knows only the info-hash and the seeder's address. Bytes = what the torrent client received (pieces + metadata). Floor = pieces covering the index reads and the 10 keyframes, × piece length. One run each (2 shared cores).`,
      '',
      '| piece | floor | engine: fetched | engine / floor | engine time | bridge (ffmpeg over bounded ranges): fetched | bridge / floor | bridge time | bridge / engine bytes |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows.map((r) => {
        const floor = r.floorPieces * r.pieceLength;
        return `| ${r.pieceLength >= MiB ? `${r.pieceLength / MiB} MiB` : `${r.pieceLength / KiB} KiB`} | ${r.floorPieces} pieces = ${mib(floor)} MiB (${pct(floor)}) | ${r.enginePieces} pieces, ${mib(r.engineBytes)} MiB (${pct(r.engineBytes)}) | ${(r.engineBytes / floor).toFixed(3)}x | ${(r.engineMs / 1000).toFixed(2)} s | ${r.bridgePieces} pieces, ${mib(r.bridgeBytes)} MiB (${pct(r.bridgeBytes)}; ffmpeg read ${mib(r.bridgeServed)} MiB) | ${(r.bridgeBytes / floor).toFixed(2)}x | ${(r.bridgeMs / 1000).toFixed(2)} s | ${(r.bridgeBytes / r.engineBytes).toFixed(1)}x |`;
      }),
      '',
      `Index + keyframe bytes (the byte floor a range reader could reach): ${mib(rows[0]?.floorBytes ?? 0)} MiB (${pct(rows[0]?.floorBytes ?? 0)}). Times include metadata exchange and decoding.`,
    ];
    await writeResultsSection('torrent', 'bench/torrent — 10 screenshots from a torrent: engine vs ffmpeg over a range bridge', lines.join('\n'));
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
