// Chunked transcoding end to end: a real coordinator, real workers, real ffmpeg. A counter clip
// (each frame carries its number in a bar of blocks; a beep at each whole second) goes through
// the whole graph — plan, chunk × rendition encodes, one audio encode, merges, packaging — and
// every output is read back: frame numbers in order with none missing or doubled, beeps on their
// seconds, the HLS master playlist opened by ffprobe and played by hls.js in Chromium.
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VidfleetClient } from '../../src/client/api-client.js';
import type { Job, TranscodeResult } from '../../src/protocol/index.js';
import { beepOnsets, frameCodes, makeCounterClip } from '../helpers/counter-clip.js';
import { startTestFleet, untilFinished, type TestFleet } from '../helpers/fleet.js';
import { playInChromium, serveDirectory } from '../helpers/hls-player.js';
import { startVidfleet, waitForOutput, type Proc } from '../helpers/processes.js';

const run = promisify(execFile);
const FPS = 25;
const SECONDS = 120;
const SOURCE = { width: 640, height: 360 };
// One frame at 25 fps: the tolerance of every timing check.
const FRAME = 1 / FPS;

const LADDER = [
  { name: '360p', height: 360, preset: 'ultrafast' },
  { name: '240p', height: 240, bitrateKbps: 300, maxrateKbps: 450, bufsizeKbps: 600, preset: 'ultrafast' },
  { name: '144p', height: 144, crf: 30, preset: 'ultrafast' },
];

async function download(client: VidfleetClient, jobId: string, name: string, dir: string): Promise<string> {
  const path = join(dir, name);
  await mkdir(dirname(path), { recursive: true });
  await pipeline(await client.downloadArtifact(jobId, name), createWriteStream(path));
  return path;
}

/** Every frame of the source exactly once and in order, and each beep within a frame of its second. */
async function expectExact(file: string): Promise<void> {
  const codes = await frameCodes(file, SOURCE.width, SOURCE.height);
  expect(codes.length).toBe(SECONDS * FPS);
  const misplaced = codes.findIndex((c, i) => c !== i);
  expect(misplaced, `frame ${misplaced} shows source frame ${codes[misplaced]}`).toBe(-1);
  const onsets = await beepOnsets(file);
  expect(onsets.length).toBe(SECONDS);
  const drift = onsets.map((t, k) => Math.abs(t - k));
  expect(Math.max(...drift), `beep drift (s) at start/middle/end: ${drift[0]} / ${drift[60]} / ${drift[119]}`).toBeLessThanOrEqual(FRAME);
}

describe('transcode: chunked, across workers', () => {
  let fleet: TestFleet;
  let clip: string;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-transcode-'));
    clip = await makeCounterClip({ seconds: SECONDS, ...SOURCE, fps: FPS, audio: true });
    fleet = await startTestFleet({ coordinator: { leaseMs: 2_000 } });
    await fleet.addWorker({ concurrency: 1 });
    await fleet.addWorker({ concurrency: 1 });
  }, 120_000);

  afterAll(async () => {
    await fleet?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a 2-minute clip → a 3-rung ladder in 10 s chunks: MP4, HLS and DASH, every rendition frame-exact with audio in sync', async () => {
    const upload = await fleet.client.uploadFile(clip, 'counter.mp4');
    const submitted = await fleet.client.submitJob({ kind: 'transcode', input: upload.uri, params: { renditions: LADDER, chunkSeconds: 10, segmentSeconds: 4, dash: true } });
    const job: Job = await untilFinished(fleet.client, submitted.id);
    expect(job.status, JSON.stringify(job.error)).toBe('completed');

    const full = await fleet.client.getJob(job.id);
    const tasks = full.tasks ?? [];
    // One task per chunk: each decodes its chunk once and encodes all three rungs.
    const videos = tasks.filter((t) => t.kind === 'transcode.video');
    expect(videos.map((t) => t.name)).toEqual(Array.from({ length: 12 }, (_, i) => `video/${String(i).padStart(5, '0')}`));
    expect(tasks.map((t) => t.name).filter((n) => !n?.startsWith('video/'))).toEqual(['plan', 'audio', 'merge/360p', 'merge/240p', 'merge/144p', 'package']);
    // Both workers took chunks: the graph really ran in parallel.
    expect(new Set(videos.map((t) => t.workerId)).size).toBe(2);

    const result = job.result as TranscodeResult;
    expect(result.renditions.map((r) => [r.name, r.width, r.height, r.frames])).toEqual([['360p', 640, 360, 3000], ['240p', 426, 240, 3000], ['144p', 256, 144, 3000]]);
    expect(result).toMatchObject({ hls: 'hls/master.m3u8', dash: 'dash/manifest.mpd', chunks: 12 });

    for (const r of LADDER) await expectExact(await download(fleet.client, job.id, `${r.name}.mp4`, dir));

    // HLS read back by ffprobe through the coordinator, via the master playlist alone.
    const master = `${fleet.coordinator.url}/v1/jobs/${job.id}/artifacts/hls/master.m3u8`;
    const { stdout } = await run('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=codec_type,width,height,nb_read_packets', '-of', 'json', master]);
    const streams = (JSON.parse(stdout) as { streams: { codec_type: string; width?: number; nb_read_packets: string }[] }).streams;
    const video = streams.filter((s) => s.codec_type === 'video');
    expect(video.map((s) => s.width).sort((a, b) => (b ?? 0) - (a ?? 0))).toEqual([640, 426, 256]);
    for (const s of video) expect(Number(s.nb_read_packets)).toBe(3000);

    // Played by hls.js in headless Chromium from a copy of the package.
    const artifacts = await fleet.client.listArtifacts(job.id);
    // Intermediate files (encoded chunks, the audio track) went with the job's completion.
    expect(artifacts.filter((a) => a.name.startsWith('work/'))).toEqual([]);
    expect(artifacts.map((a) => a.name)).toEqual(expect.arrayContaining(['360p.mp4', '240p.mp4', '144p.mp4', 'reports/360p.json', 'hls/master.m3u8', 'dash/manifest.mpd']));
    const hlsDir = join(dir, 'served');
    for (const a of artifacts.filter((x) => x.name.startsWith('hls/'))) await download(fleet.client, job.id, a.name, hlsDir);
    const server = await serveDirectory(hlsDir);
    try {
      const playback = await playInChromium(server.playerUrl('hls/master.m3u8'), { seconds: 3, screenshot: join('test-artifacts', 'transcode-hls.png') });
      expect(playback.errors).toEqual([]);
      expect(playback.currentTimeEnd - playback.currentTimeStart).toBeGreaterThanOrEqual(1);
      expect(playback.levels).toBe(3);
    } finally {
      await server.close();
    }
  }, 600_000);

  it('a worker killed with SIGKILL while it encodes a chunk (one task per chunk × rung): that task is redone elsewhere, the outputs still exact', async () => {
    const upload = await fleet.client.uploadFile(clip, 'counter.mp4');
    // The victim, a separate process, is the only worker that runs chunks until it dies.
    for (const w of fleet.workers) await w.stop();
    fleet.workers.splice(0);
    const victim: Proc = startVidfleet(['worker', '--coordinator', fleet.coordinator.url, '--concurrency', '1', '--name', 'victim', '--kinds', 'transcode']);
    try {
      const [, victimId] = await waitForOutput(victim, /"registered","workerId":"([^"]+)"/);
      const submitted = await fleet.client.submitJob({ kind: 'transcode', input: upload.uri, params: { renditions: [LADDER[1]!, LADDER[2]!], chunkSeconds: 10, hls: false, chunkTasks: 'rendition' } });
      let killed: string | undefined;
      const deadline = Date.now() + 120_000;
      while (!killed && Date.now() < deadline) {
        const job = await fleet.client.getJob(submitted.id);
        const running = job.tasks?.find((t) => t.kind === 'transcode.video' && t.status === 'running' && t.workerId === victimId && t.progress > 0);
        if (running) {
          await victim.kill('SIGKILL');
          killed = running.name ?? running.id;
        } else await new Promise((r) => setTimeout(r, 20));
      }
      expect(killed, 'the victim never ran a chunk').toBeDefined();
      await fleet.addWorker({ concurrency: 2 });
      const job = await untilFinished(fleet.client, submitted.id);
      expect(job.status, JSON.stringify(job.error)).toBe('completed');
      const redone = (await fleet.client.getJob(job.id)).tasks?.find((t) => t.name === killed);
      expect(redone).toMatchObject({ status: 'completed', attempt: 2 });
      expect((await fleet.client.getJob(job.id)).tasks?.filter((t) => t.kind === 'transcode.video')).toHaveLength(2 * 12);
      for (const name of ['240p.mp4', '144p.mp4']) await expectExact(await download(fleet.client, job.id, name, join(dir, 'killed')));
    } finally {
      await victim.kill('SIGKILL');
    }
  }, 600_000);
  it('cancel stops every running task of the graph at once and hands out nothing more', async () => {
    const upload = await fleet.client.uploadFile(clip, 'counter.mp4');
    // A slow preset, so chunks are still being encoded when the cancel comes.
    const submitted = await fleet.client.submitJob({ kind: 'transcode', input: upload.uri, params: { renditions: [{ name: '360p', height: 360, preset: 'slow' }], chunkSeconds: 10 } });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const job = await fleet.client.getJob(submitted.id);
      if (job.tasks?.some((t) => t.kind === 'transcode.video' && t.status === 'running')) break;
      if (Date.now() > deadline) throw new Error('no chunk ever ran');
      await new Promise((r) => setTimeout(r, 50));
    }
    await fleet.client.cancelJob(submitted.id);
    const job = await untilFinished(fleet.client, submitted.id);
    expect(job.status).toBe('canceled');
    const tasks = (await fleet.client.getJob(job.id)).tasks ?? [];
    expect(tasks.filter((t) => t.status !== 'completed' && t.status !== 'canceled')).toEqual([]);
    expect(tasks.filter((t) => t.kind === 'transcode.video' && t.status === 'canceled').length).toBeGreaterThan(0);
    expect(tasks.find((t) => t.name === 'merge/360p')?.status).toBe('canceled');
    // The workers confirmed each cancel after stopping its ffmpeg: nothing of this job still runs.
    const idleBy = Date.now() + 5_000;
    while (fleet.workers.some((w) => w.runningTasks > 0) && Date.now() < idleBy) await new Promise((r) => setTimeout(r, 50));
    expect(fleet.workers.map((w) => w.runningTasks)).toEqual(fleet.workers.map(() => 0));
  }, 300_000);
});
