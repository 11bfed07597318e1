// The torrent source against real BitTorrent peers: webtorrent seeders in child processes on
// 127.0.0.1 (no trackers, DHT or LSD), a clip made with ffmpeg. Each read must return the file's
// exact bytes while fetching only the pieces that cover it; sessions resume from their data dir;
// a vanished seeder or missing metadata fails with a retryable code instead of hanging.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTorrentInput, VidfleetError } from '../../src/protocol/index.js';
import { decodePieceSet, openTorrent, parseResumeData, pickFile, sliceRange, type OpenTorrentOptions, type TorrentMetadata, type TorrentSession } from '../../src/sources/torrent/index.js';
import { CLIP_DIR, makeClip } from '../helpers/clips.js';
import { REPO_ROOT } from '../helpers/shared-media.js';
import { KiB, MiB, killAllSeeders, makeSeedDir, startSeeder } from '../helpers/torrent-seeder.js';
import { rejection } from '../helpers/rejection.js';

const baseline = new Map<string, number>();
const workDir = mkdtempSync(join(tmpdir(), 'vidfleet-torrent-'));
const sessions: TorrentSession[] = [];
let clip: string;
let clipBytes: Buffer;
let smallClip: string;

beforeAll(async () => {
  for (const r of process.getActiveResourcesInfo()) baseline.set(r, (baseline.get(r) ?? 0) + 1);
  // 40 s of 320x240 test pattern, moov at the end: ~3.8 MB, 15 pieces of 256 KiB.
  clip = await makeClip({ duration: 40 });
  smallClip = await makeClip({ duration: 10 });
  clipBytes = readFileSync(clip);
});

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await killAllSeeders();
  rmSync(workDir, { recursive: true, force: true });
});

let dirCounter = 0;
const freshDir = (): string => join(workDir, `data-${++dirCounter}`);

async function open(input: string | Uint8Array, opts: Partial<OpenTorrentOptions> & { peers: string[] }): Promise<TorrentSession> {
  const session = await openTorrent(parseTorrentInput(input), { dataDir: freshDir(), metadataTimeoutMs: 15_000, pieceTimeoutMs: 10_000, ...opts });
  sessions.push(session);
  return session;
}

/** Pieces covering [offset, offset + length) of a file, computed from scratch. */
function covering(meta: TorrentMetadata, fileOffset: number, ranges: [number, number][]): number[] {
  const set = new Set<number>();
  for (const [off, len] of ranges) {
    const first = Math.floor((fileOffset + off) / meta.pieceLength);
    const last = Math.floor((fileOffset + off + len - 1) / meta.pieceLength);
    for (let i = first; i <= last; i++) set.add(i);
  }
  return [...set].sort((a, b) => a - b);
}

const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);


describe('torrent range reader', () => {
  it.each([
    ['256 KiB', 256 * KiB],
    ['1 MiB', 1 * MiB],
  ])('reads exact bytes by bare info-hash + peer, fetching only the covering pieces (%s pieces)', async (_label, pieceLength) => {
    const seeder = await startSeeder({ path: clip, pieceLength });
    const session = await open(seeder.info.infoHash, { peers: [seeder.address] });
    expect(session.metadataSource).toBe('peers');
    const meta = session.metadata;
    expect(meta.infoHash).toBe(seeder.info.infoHash);
    expect(meta.pieceLength).toBe(pieceLength);
    const file = pickFile(meta);
    expect(file.length).toBe(clipBytes.length);
    const reader = session.fileReader(file.index);
    expect(reader.size).toBe(clipBytes.length);

    const size = clipBytes.length;
    const ranges: [number, number][] = [
      [0, 4096], // ftyp + start of mdat
      [size - 20_000, 20_000], // the moov at the end
      [pieceLength * 2 - 100, 300], // across a piece boundary
      [Math.floor(size / 2), 1], // one byte
    ];
    for (const [off, len] of ranges) {
      const got = await reader.read(off, len);
      expect(got.length).toBe(len);
      expect(got.equals(clipBytes.subarray(off, off + len))).toBe(true);
    }
    // Past the end: fewer bytes, then none.
    expect((await reader.read(size - 10, 100)).equals(clipBytes.subarray(size - 10))).toBe(true);
    expect((await reader.read(size, 10)).length).toBe(0);

    const want = covering(meta, file.offset, ranges);
    const stats = session.stats();
    expect(sorted(stats.fetchedPieces)).toEqual(want);
    expect(stats.piecesFetched).toBe(want.length);
    expect(stats.piecesHeldAtStart).toBe(0);
    expect(stats.bytesDownloaded).toBeLessThanOrEqual(1.2 * want.length * pieceLength);
    expect(reader.stats()).toEqual({ bytesRead: ranges.reduce((n, [, l]) => n + l, 0) + 10, requests: ranges.length + 2 });
    await session.close();
    await seeder.kill();
  });

  it('multi-file torrent (magnet with x.pe): picks the largest video and fetches no piece of the other files', async () => {
    const dir = await makeSeedDir(join(CLIP_DIR, 'Show'), {
      'notes.txt': { text: 'not a video\n'.repeat(2000) },
      'extras/small.mp4': { copyOf: smallClip },
      'main.mp4': { copyOf: clip },
    });
    const seeder = await startSeeder({ path: dir, pieceLength: 256 * KiB });
    const magnet = `magnet:?xt=urn:btih:${seeder.info.infoHash}&dn=Show&x.pe=${seeder.address}`;
    const session = await open(magnet, { peers: [] });
    const meta = session.metadata;
    expect(meta.files.map((f) => f.path).sort()).toEqual(['Show/extras/small.mp4', 'Show/main.mp4', 'Show/notes.txt']);

    const file = pickFile(meta);
    expect(file.path).toBe('Show/main.mp4');
    expect(pickFile(meta, 'extras/small.mp4').path).toBe('Show/extras/small.mp4');
    expect(pickFile(meta, 'Show/notes.txt').path).toBe('Show/notes.txt');
    const notFound = await rejection(Promise.resolve().then(() => pickFile(meta, 'missing.mkv')));
    expect(notFound.code).toBe('TORRENT_FILE_NOT_FOUND');
    expect(notFound.message).toContain('Show/main.mp4');

    const reader = session.fileReader(file.index);
    const size = file.length;
    const ranges: [number, number][] = [
      [0, 64 * KiB],
      [size - 64 * KiB, 64 * KiB],
    ];
    for (const [off, len] of ranges) expect((await reader.read(off, len)).equals(clipBytes.subarray(off, off + len))).toBe(true);

    const fetched = sorted(session.stats().fetchedPieces);
    expect(fetched).toEqual(covering(meta, file.offset, ranges));
    // Every fetched piece holds bytes of main.mp4 (a piece it shares with a neighbour is allowed).
    for (const i of fetched) {
      const start = i * meta.pieceLength;
      const end = start + meta.pieceLength;
      expect(start < file.offset + file.length && end > file.offset, `piece ${i} outside main.mp4`).toBe(true);
    }
    await session.close();
    await seeder.kill();
  });

  it('a torrent with no video fails with TORRENT_NO_VIDEO listing its files (opened from the .torrent, no metadata exchange)', async () => {
    const dir = await makeSeedDir(join(CLIP_DIR, 'Docs'), { 'a.txt': { text: 'hello\n' }, 'b.nfo': { text: 'info\n'.repeat(100) } });
    const seeder = await startSeeder({ path: dir, pieceLength: 256 * KiB });
    const ref = parseTorrentInput(seeder.info.torrent);
    expect(ref.source).toBe('torrent-file');
    expect(ref.infoHash).toBe(seeder.info.infoHash);
    const session = await open(seeder.info.torrent, { peers: [seeder.address] });
    expect(session.metadataSource).toBe('torrent-file');
    const err = await rejection(Promise.resolve().then(() => pickFile(session.metadata)));
    expect(err.code).toBe('TORRENT_NO_VIDEO');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/torrent has no video file \(files: .*Docs\/a\.txt.*Docs\/b\.nfo/);
    expect(session.stats().bytesDownloaded).toBe(0);
    await session.close();
    await seeder.kill();
  });

  it('rejects bad torrent inputs with INVALID_INPUT', () => {
    const bad: (string | Uint8Array)[] = [
      'not-a-hash',
      'abcdef0123456789abcdef0123456789abcdef0', // 39 hex
      'magnet:?dn=nothing',
      'magnet:?xt=urn:btih:zzzz',
      Buffer.from('d4:infoi1ee'), // info is not a dictionary
      Buffer.from('this is not bencoded'),
      new Uint8Array(0),
    ];
    for (const input of bad) {
      let err: unknown;
      try {
        parseTorrentInput(input);
      } catch (e) {
        err = e;
      }
      expect(err, String(input)).toBeInstanceOf(VidfleetError);
      expect((err as VidfleetError).code).toBe('INVALID_INPUT');
    }
    const hex = 'C12FE1C06BBA254A9DC9F519B335AA7C1367A88A';
    expect(parseTorrentInput(hex)).toEqual({ source: 'info-hash', infoHash: hex.toLowerCase(), trackers: [], peers: [] });
    // The same hash in base32, and in a magnet with trackers and a peer.
    expect(parseTorrentInput('YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK').infoHash).toBe(hex.toLowerCase());
    const m = parseTorrentInput(`magnet:?xt=urn:btih:${hex}&dn=Big+Buck&tr=udp%3A%2F%2Ftracker.example%3A80&x.pe=10.1.2.3:6881`);
    expect(m).toMatchObject({ source: 'magnet', infoHash: hex.toLowerCase(), name: 'Big Buck', trackers: ['udp://tracker.example:80'], peers: ['10.1.2.3:6881'] });
  });

  it('metadata nobody sends: TORRENT_METADATA_TIMEOUT after about metadataTimeoutMs', async () => {
    const ghost = randomBytes(20).toString('hex');
    const started = performance.now();
    const err = await rejection(open(`magnet:?xt=urn:btih:${ghost}`, { peers: ['127.0.0.1:9'], metadataTimeoutMs: 1500 }));
    const elapsed = performance.now() - started;
    expect(err.code).toBe('TORRENT_METADATA_TIMEOUT');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(ghost);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(6000);
  });

  it('abort while waiting for metadata rejects with the reason; a malformed peer address is INVALID_PARAMS', async () => {
    const ghost = randomBytes(20).toString('hex');
    const ac = new AbortController();
    const reason = new VidfleetError('TASK_NOT_RUNNABLE', 'Attempt stopped: cancel');
    setTimeout(() => ac.abort(reason), 200);
    const started = performance.now();
    const err = await rejection(open(ghost, { peers: [], metadataTimeoutMs: 30_000, signal: ac.signal }));
    expect(err).toBe(reason);
    expect(performance.now() - started).toBeLessThan(5000);
    expect((await rejection(open(ghost, { peers: ['localhost'] }))).code).toBe('INVALID_PARAMS');
  });

  it('concurrent overlapping reads share pieces: each piece is fetched once and both get their bytes', async () => {
    const seeder = await startSeeder({ path: clip, pieceLength: 256 * KiB });
    const session = await open(seeder.info.infoHash, { peers: [seeder.address] });
    const reader = session.fileReader(0);
    const ranges: [number, number][] = [
      [100 * KiB, 600 * KiB],
      [300 * KiB, 600 * KiB],
      [700 * KiB, 10],
    ];
    const got = await Promise.all(ranges.map(([o, l]) => reader.read(o, l)));
    ranges.forEach(([o, l], i) => expect(got[i]!.equals(clipBytes.subarray(o, o + l))).toBe(true));
    const fetched = session.stats().fetchedPieces;
    expect(sorted(fetched)).toEqual(covering(session.metadata, 0, ranges));
    expect(new Set(fetched).size).toBe(fetched.length);
    await session.close();
    await seeder.kill();
  });

  it('resumes: a new session on the same dataDir reads A ∪ B and downloads only B; resume data carries the piece set to another worker', async () => {
    const seeder = await startSeeder({ path: clip, pieceLength: 256 * KiB });
    const dataDir = freshDir();
    const size = clipBytes.length;
    const A: [number, number][] = [
      [0, 100 * KiB],
      [size - 30 * KiB, 30 * KiB],
    ];
    const B: [number, number][] = [
      [Math.floor(size / 2), 300 * KiB],
      [5 * 256 * KiB + 10, 10],
    ];

    const s1 = await open(seeder.info.infoHash, { peers: [seeder.address], dataDir });
    const r1 = s1.fileReader(0);
    for (const [o, l] of A) expect((await r1.read(o, l)).equals(clipBytes.subarray(o, o + l))).toBe(true);
    const piecesA = covering(s1.metadata, 0, A);
    expect(sorted(s1.stats().fetchedPieces)).toEqual(piecesA);
    const resume1 = s1.resumeData();
    await s1.close();

    const s2 = await open(seeder.info.infoHash, { peers: [seeder.address], dataDir, resume: resume1 });
    expect(s2.metadataSource).toBe('data-dir');
    expect(s2.stats().piecesHeldAtStart).toBe(piecesA.length);
    expect(s2.stats().piecesFetchedEarlier).toBe(piecesA.length);
    const r2 = s2.fileReader(0);
    for (const [o, l] of [...A, ...B]) expect((await r2.read(o, l)).equals(clipBytes.subarray(o, o + l))).toBe(true);
    const piecesB = covering(s2.metadata, 0, B).filter((i) => !piecesA.includes(i));
    const st2 = s2.stats();
    expect(sorted(st2.fetchedPieces)).toEqual(piecesB);
    expect(st2.bytesDownloaded).toBeLessThanOrEqual(1.2 * piecesB.length * s2.metadata.pieceLength);
    const resume2 = s2.resumeData();
    await s2.close();

    // Another worker (its own dataDir) gets the resume data: it holds nothing, but knows what was fetched.
    const s3 = await open(seeder.info.infoHash, { peers: [seeder.address], resume: resume2 });
    expect(s3.stats().piecesHeldAtStart).toBe(0);
    expect(s3.stats().piecesFetchedEarlier).toBe(piecesA.length + piecesB.length);
    // Compact (a base64 bitfield), and ignored for another torrent.
    expect(JSON.stringify(resume2).length).toBeLessThan(200);
    expect(parseResumeData(resume2, randomBytes(20).toString('hex'))).toBeNull();
    expect(decodePieceSet(resume2.fetched, resume2.pieces)).toEqual(sorted([...piecesA, ...piecesB]));
    await s3.close();
    await seeder.kill();
  });

  it('seeder killed mid-read: TORRENT_PEERS_UNAVAILABLE within pieceTimeoutMs; after a restart a new session completes the read', async () => {
    // 1 MiB/s: the whole 3.8 MB file takes ~4 s, so the kill lands mid-read.
    const seeder = await startSeeder({ path: clip, pieceLength: 256 * KiB, uploadLimit: 1 * MiB });
    const dataDir = freshDir();
    const s1 = await open(seeder.info.infoHash, { peers: [seeder.address], dataDir, pieceTimeoutMs: 2000 });
    const size = clipBytes.length;
    const reading = s1.fileReader(0).read(0, size);
    while (s1.stats().piecesFetched < 2) await new Promise((r) => setTimeout(r, 20));
    await seeder.kill();
    const killedAt = performance.now();
    const err = await rejection(reading);
    const waited = performance.now() - killedAt;
    expect(err.code).toBe('TORRENT_PEERS_UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(waited).toBeLessThan(2000 + 3000);
    const before = s1.stats().fetchedPieces;
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(before.length).toBeLessThan(s1.metadata.pieces);
    await s1.close();

    await seeder.restart();
    const s2 = await open(seeder.info.infoHash, { peers: [seeder.address], dataDir });
    expect(s2.stats().piecesHeldAtStart).toBe(before.length);
    const got = await s2.fileReader(0).read(0, size);
    expect(got.equals(clipBytes)).toBe(true);
    // Only what the first session had not fetched.
    expect(sorted(s2.stats().fetchedPieces)).toEqual([...Array(s2.metadata.pieces).keys()].filter((i) => !before.includes(i)));
    await s2.close();
    await seeder.kill();
  });

  it('abort: a read rejects with the signal reason and its pieces are released', async () => {
    const seeder = await startSeeder({ path: clip, pieceLength: 256 * KiB, uploadLimit: 256 * KiB });
    const session = await open(seeder.info.infoHash, { peers: [seeder.address] });
    const reader = session.fileReader(0);
    const ac = new AbortController();
    const reading = reader.read(0, clipBytes.length, ac.signal);
    setTimeout(() => ac.abort(new VidfleetError('TASK_NOT_RUNNABLE', 'Attempt stopped: cancel')), 300);
    const err = await rejection(reading);
    expect(err).toBe(ac.signal.reason);
    // Pieces already wanted by the aborted read are deselected: a small read still completes alone.
    const size = clipBytes.length;
    expect((await reader.read(size - 1000, 1000)).equals(clipBytes.subarray(size - 1000))).toBe(true);
    // …and nothing more arrives: the aborted read's pieces are no longer selected.
    const settled = session.stats().piecesFetched;
    await new Promise((r) => setTimeout(r, 1500));
    expect(session.stats().piecesFetched).toBe(settled);
    expect(settled).toBeLessThan(session.metadata.pieces);
    await session.close();
    await seeder.kill();
  });

  it('sliceRange splits a range at piece boundaries', () => {
    const g = { pieceLength: 100, length: 250, pieces: 3 };
    expect(sliceRange(g, 90, 120)).toEqual([
      { index: 0, offset: 90, length: 10 },
      { index: 1, offset: 0, length: 100 },
      { index: 2, offset: 0, length: 10 },
    ]);
    expect(sliceRange(g, 240, 100)).toEqual([{ index: 2, offset: 40, length: 10 }]);
  });

  it('a process that opens, reads and closes a session exits by itself (built dist/, as `npm test` makes it)', async () => {
    const built = join(REPO_ROOT, 'dist', 'src', 'sources', 'torrent', 'index.js');
    expect(existsSync(built), `${built} is missing: run npm run build (npm test does)`).toBe(true);
    const seeder = await startSeeder({ path: clip, pieceLength: 256 * KiB });
    const script = join(workDir, 'exit-check.mjs');
    writeFileSync(
      script,
      `import { openTorrent, parseTorrentInput } from ${JSON.stringify(pathToFileURL(built).href)};
const [hash, peer, dataDir] = process.argv.slice(2);
const s = await openTorrent(parseTorrentInput(hash), { dataDir, peers: [peer], metadataTimeoutMs: 10000 });
const buf = await s.fileReader(0).read(0, 1000);
await s.close();
console.log('read ' + buf.length);
`,
    );
    // No process.exit in the script: it ends only if nothing (socket, server, timer) is left open.
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [script, seeder.info.infoHash, seeder.address, freshDir()], { timeout: 15_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (child.exitCode ?? -1) : 0, stdout, stderr }),
      );
    });
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe('read 1000');
    expect(out.code).toBe(0);
    await seeder.kill();
  });

  it('leaves no open sockets or timers once sessions are closed and seeders gone', async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await killAllSeeders();
    const extra = (): string[] => {
      const now = new Map<string, number>();
      for (const r of process.getActiveResourcesInfo()) now.set(r, (now.get(r) ?? 0) + 1);
      return [...now].filter(([r, n]) => n > (baseline.get(r) ?? 0) && r !== 'FSReqCallback').map(([r, n]) => `${r}×${n - (baseline.get(r) ?? 0)}`);
    };
    const deadline = Date.now() + 3000;
    while (extra().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(extra()).toEqual([]);
  });
});
