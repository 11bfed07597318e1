// torrent-screenshots through the whole system, against real BitTorrent seeders on loopback
// (webtorrent child processes; no trackers, DHT or LSD): the worker knows only the info-hash
// and the seeder's address. Each screenshot must be ffmpeg's own decode of the same keyframe
// from the whole file (PSNR ≥ 45 dB), and the bytes fetched must stay within 1.2x of the piece
// floor (the pieces covering the index reads and the keyframes).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetError, type Job, type TorrentScreenshotsResult } from '../../src/protocol/index.js';
import { CLIP_DIR } from '../helpers/clips.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';
import { COMPARE_FILTER, expectedKey, probeKeys, psnr, referenceFrame } from '../helpers/keyframe-check.js';
import { KiB, killAllSeeders, makeSeedDir, startSeeder, type Seeder } from '../helpers/torrent-seeder.js';

const run = promisify(execFile);
const FFMPEG = process.env.VIDFLEET_FFMPEG || 'ffmpeg';
const PIECE = 32 * KiB;
const work = mkdtempSync(join(CLIP_DIR, 'torrent-shots-'));
const files: Record<string, string> = {};
let fleet: TestFleet;

beforeAll(async () => {
  // One 30 s 640x360 H.264 encode (B-frames, a keyframe every 2 s), remuxed into each layout; one HEVC encode.
  const master = join(work, 'master.mp4');
  await run(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=30', '-c:v', 'libx264', '-preset', 'superfast', '-crf', '28', '-bf', '2', '-g', '50', '-pix_fmt', 'yuv420p', master]);
  const remux = async (name: string, from: string, flags: string[]): Promise<void> => {
    files[name] = join(work, name);
    await run(FFMPEG, ['-v', 'error', '-y', '-i', from, '-c', 'copy', ...flags, files[name]!]);
  };
  await Promise.all([
    remux('faststart.mp4', master, ['-movflags', '+faststart']),
    remux('moov-end.mp4', master, []),
    remux('fragmented.mp4', master, ['-movflags', 'frag_keyframe+empty_moov']),
    remux('h264.mkv', master, []),
  ]);
  // The fallback's cost is mostly fixed (ffmpeg's probe of each input), so its file is bigger: a high-bit-rate AVI.
  files['clip.avi'] = join(work, 'clip.avi');
  await run(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=30', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '8', '-g', '50', '-pix_fmt', 'yuv420p', files['clip.avi']!]);
  files['hevc.mkv'] = join(work, 'hevc.mkv');
  await run(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=20', '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:keyint=50', '-crf', '28', '-pix_fmt', 'yuv420p', files['hevc.mkv']!]);
  fleet = await startTestFleet({ coordinator: { retryBaseMs: 3000 } });
  await fleet.addWorker({ kinds: ['torrent-screenshots'], concurrency: 1 });
}, 120_000);

afterAll(async () => {
  await killAllSeeders();
  await fleet?.stop();
});

async function submit(input: string, params: Record<string, unknown>, maxAttempts?: number): Promise<Job> {
  return fleet.client.submitJob({ kind: 'torrent-screenshots', input, params: { format: 'png', metadataTimeoutSeconds: 20, pieceTimeoutSeconds: 10, ...params }, ...(maxAttempts && { maxAttempts }) });
}

async function download(jobId: string, name: string, to: string): Promise<string> {
  await pipeline(await fleet.client.downloadArtifact(jobId, name), createWriteStream(to));
  return to;
}

/** Every screenshot is ffprobe's keyframe at or before its time and ffmpeg's decode of it from the whole file. */
async function expectTrueScreenshots(jobId: string, path: string, result: TorrentScreenshotsResult, tag: string): Promise<void> {
  const probed = await probeKeys(path);
  for (const shot of result.screenshots) {
    expect(shot.keyframeTime, `${tag} #${shot.index}`).toBeCloseTo(expectedKey(probed.keys, shot.time), 5);
    const got = await download(jobId, shot.artifact, join(work, `${tag}-${shot.artifact}`));
    const ref = join(work, `${tag}-${shot.index}-ref.png`);
    await referenceFrame(path, shot.keyframeTime!, probed.startTime, ref, COMPARE_FILTER);
    expect(await psnr(got, ref), `${tag} #${shot.index} at ${shot.keyframeTime} s`).toBeGreaterThanOrEqual(45);
  }
}

function expectNearFloor(result: TorrentScreenshotsResult, tag: string): void {
  const c = result.cost;
  // Reported for the lead's numbers: `bytes/floor` per container.
  console.log(`${tag}: ${c.piecesFetched} pieces (${c.bytesFetched} B) fetched, floor ${c.floorPieces} pieces / ${c.floorBytes} B, file ${c.fileSize} B, metadata ${c.timeToMetadataMs} ms`);
  expect(c.fallback).toBe(false);
  expect(c.floorPieces).toBeGreaterThan(0);
  expect(c.bytesFetched).toBeLessThanOrEqual(1.2 * c.floorPieces * c.pieceLength);
  expect(c.piecesFetched).toBeLessThanOrEqual(c.floorPieces);
  expect(c.bytesFetched).toBeLessThan(0.5 * c.fileSize);
}

describe('torrent-screenshots: the floor, per container', () => {
  for (const [name, container] of [
    ['faststart.mp4', 'mp4'],
    ['moov-end.mp4', 'mp4'],
    ['fragmented.mp4', 'fmp4'],
    ['h264.mkv', 'mkv'],
    ['hevc.mkv', 'mkv'],
  ] as const) {
    it(`${name}: by info-hash + peer, pictures as ffmpeg decodes them, bytes ≤ 1.2x the piece floor`, async () => {
      const seeder = await startSeeder({ path: files[name]!, pieceLength: PIECE });
      try {
        const job = await submit(seeder.info.infoHash, { peers: [seeder.address], count: 5 });
        const done = await untilFinished(fleet.client, job.id);
        expect(done.status, JSON.stringify(done.error)).toBe('completed');
        const result = done.result as TorrentScreenshotsResult;
        expect(result.screenshots).toHaveLength(5);
        expect(result.cost.container).toBe(container);
        expect(result.made).toBe(5);
        expectNearFloor(result, name);
        await expectTrueScreenshots(job.id, files[name]!, result, name);
      } finally {
        await seeder.kill();
      }
    });
  }

  it('a multi-file torrent (magnet with x.pe): picks the largest video', async () => {
    const dir = await makeSeedDir(join(work, 'Show'), {
      'notes.txt': { text: 'not a video\n'.repeat(5000) },
      'extras/sample.mp4': { copyOf: files['faststart.mp4']! },
      'main.mkv': { copyOf: files['h264.mkv']! },
    });
    // The sample is a remux of the same video, so the MKV (with its Cues) is larger only slightly: make sure.
    const seeder = await startSeeder({ path: dir, pieceLength: PIECE });
    try {
      const magnet = `magnet:?xt=urn:btih:${seeder.info.infoHash}&dn=Show&x.pe=${seeder.address}`;
      const job = await submit(magnet, { times: [3, 11.5, 21] });
      const done = await untilFinished(fleet.client, job.id);
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      const result = done.result as TorrentScreenshotsResult;
      const largest = [...seeder.info.files].filter((f) => /\.(mp4|mkv)$/.test(f.path)).sort((a, b) => b.length - a.length)[0]!;
      expect(result.file).toBe(largest.path);
      expectNearFloor(result, 'multi-file');
      await expectTrueScreenshots(job.id, result.file.endsWith('.mkv') ? files['h264.mkv']! : files['faststart.mp4']!, result, 'multi');
    } finally {
      await seeder.kill();
    }
  });
});

describe('torrent-screenshots: inputs and failures', () => {
  it('a torrent with no video → TORRENT_NO_VIDEO', async () => {
    const dir = await makeSeedDir(join(work, 'Docs'), { 'a.txt': { text: 'hello\n' }, 'b.nfo': { text: 'info\n'.repeat(100) } });
    const seeder = await startSeeder({ path: dir, pieceLength: PIECE });
    try {
      const job = await submit(seeder.info.infoHash, { peers: [seeder.address] });
      const done = await untilFinished(fleet.client, job.id);
      expect(done.status).toBe('failed');
      expect(done.error).toMatchObject({ code: 'TORRENT_NO_VIDEO', retryable: false });
      expect(done.error?.message).toContain('Docs/a.txt');
    } finally {
      await seeder.kill();
    }
  });

  it('a bad info-hash is refused at submit (400 INVALID_INPUT); torrents go to torrent-screenshots only', async () => {
    for (const input of ['magnet:?xt=urn:btih:zzzz', 'magnet:?dn=nothing']) {
      const err = await submit(input, {}).catch((e: unknown) => e);
      expect(err, input).toBeInstanceOf(VidfleetError);
      expect(err, input).toMatchObject({ code: 'INVALID_INPUT', status: 400 });
    }
    const wrongKind = await fleet.client.submitJob({ kind: 'screenshots', input: randomBytes(20).toString('hex'), params: {} }).catch((e: unknown) => e);
    expect(wrongKind).toMatchObject({ code: 'INVALID_INPUT' });
    const notTorrent = await submit('https://example.com/a.mp4', {}).catch((e: unknown) => e);
    expect(notTorrent).toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('metadata that never arrives → TORRENT_METADATA_TIMEOUT (retryable; one attempt here)', async () => {
    const job = await submit(randomBytes(20).toString('hex'), { metadataTimeoutSeconds: 2 }, 1);
    const done = await untilFinished(fleet.client, job.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'TORRENT_METADATA_TIMEOUT', retryable: true });
  });

  it('maxBytes below the floor → TORRENT_BUDGET_EXCEEDED before keyframes are fetched', async () => {
    const seeder = await startSeeder({ path: files['faststart.mp4']!, pieceLength: PIECE });
    try {
      const job = await submit(seeder.info.infoHash, { peers: [seeder.address], count: 10, maxBytes: 6 * PIECE });
      const done = await untilFinished(fleet.client, job.id);
      expect(done.status).toBe('failed');
      expect(done.error).toMatchObject({ code: 'TORRENT_BUDGET_EXCEEDED', retryable: false });
      expect((await fleet.client.listArtifacts(job.id)).length).toBe(0);
    } finally {
      await seeder.kill();
    }
  });

  it('an AVI (no index the engine reads) goes through the range bridge and fetches far less than the file', async () => {
    const seeder = await startSeeder({ path: files['clip.avi']!, pieceLength: PIECE });
    try {
      const job = await submit(seeder.info.infoHash, { peers: [seeder.address], count: 3 });
      const done = await untilFinished(fleet.client, job.id);
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      const result = done.result as TorrentScreenshotsResult;
      const c = result.cost;
      console.log(`clip.avi (bridge): ${c.piecesFetched} pieces (${c.bytesFetched} B) fetched, ffmpeg read ${c.floorBytes} B through the bridge, file ${c.fileSize} B`);
      expect(c).toMatchObject({ fallback: true, container: 'AVI' });
      expect(result.screenshots).toHaveLength(3);
      expect(c.bytesFetched).toBeLessThan(0.5 * c.fileSize);
    } finally {
      await seeder.kill();
    }
  });
});

describe('torrent-screenshots: a seeder that goes away', () => {
  let seeder: Seeder;
  afterAll(() => seeder?.kill());

  it('fails recoverably with resume data; the retry on another worker skips the stored screenshots', async () => {
    // Slow seeder (100 KiB/s), so the job is still fetching keyframes when it is killed.
    seeder = await startSeeder({ path: files['moov-end.mp4']!, pieceLength: PIECE, uploadLimit: 100 * KiB });
    const first = fleet.workers[0]!;
    const job = await submit(seeder.info.infoHash, { peers: [seeder.address], count: 10, pieceTimeoutSeconds: 3 });
    while ((await fleet.client.listArtifacts(job.id)).length < 1) await new Promise((r) => setTimeout(r, 25));
    await seeder.kill();
    let view = await fleet.client.getJob(job.id);
    while (!(view.tasks?.[0]?.status === 'pending' && view.tasks[0].error)) {
      expect(view.status).not.toBe('failed');
      await new Promise((r) => setTimeout(r, 50));
      view = await fleet.client.getJob(job.id);
    }
    expect(view.tasks![0]!.error).toMatchObject({ code: 'TORRENT_PEERS_UNAVAILABLE', retryable: true });
    const storedBefore = (await fleet.client.listArtifacts(job.id)).length;
    expect(storedBefore).toBeGreaterThan(0);
    expect(storedBefore).toBeLessThan(10);
    // The retry must run elsewhere: this worker stops, the seeder returns, a new worker (its own torrent cache) joins.
    await first.stop();
    await seeder.restart();
    const second = await fleet.addWorker({ kinds: ['torrent-screenshots'], concurrency: 1 });
    const done = await untilFinished(fleet.client, job.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(done.tasks?.[0]?.attempt).toBe(2);
    expect(done.tasks?.[0]?.workerId).toBe(second.id);
    const result = done.result as TorrentScreenshotsResult;
    expect(result.screenshots.map((s) => s.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result.reused).toBeGreaterThan(0);
    expect(result.reused).toBeLessThanOrEqual(storedBefore);
    expect(result.made).toBe(10 - result.reused);
    expect(result.cost.piecesFetchedEarlier).toBeGreaterThan(0);
    expect(result.cost.piecesHeldAtStart).toBe(0);
    expect(result.cost.piecesFetched).toBeLessThanOrEqual(result.cost.floorPieces);
    const names = (await fleet.client.listArtifacts(job.id)).map((a) => a.name);
    expect(new Set(names).size).toBe(10);
    await expectTrueScreenshots(job.id, files['moov-end.mp4']!, result, 'resumed');
  }, 90_000);
});
