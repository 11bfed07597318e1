// Synthetic clips made with ffmpeg's lavfi sources (testsrc2 picture, sine tone) so tests know
// the exact size, duration, rotation and aspect of their input, and a recording TaskContext to
// run kinds on them. Each option set is made once per test process and shared; everything
// lives in one temp dir removed at exit.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { copyFile, open, stat, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import type { ProducedArtifact, ProgressUpdate, TaskContext } from '../../src/media/kinds/kind.js';
import { VidfleetError } from '../../src/protocol/index.js';

const run = promisify(execFile);
const FFMPEG = process.env.VIDFLEET_FFMPEG || 'ffmpeg';
const FFPROBE = process.env.VIDFLEET_FFPROBE || 'ffprobe';

export const CLIP_DIR = mkdtempSync(join(tmpdir(), 'vidfleet-clips-'));
// Test files are isolated, so this module (and its dir) exists once per importing file; vitest
// ends its workers without a normal exit, so clean up in the file's afterAll.
afterAll(() => rmSync(CLIP_DIR, { recursive: true, force: true }));

export interface ClipOptions {
  /** Seconds (default 2). */
  duration?: number;
  /** Coded size (default 320x240; keep both even for 4:2:0). */
  width?: number;
  height?: number;
  fps?: number;
  /** Add a sine-tone AAC/AC-3 track (default false). */
  audio?: boolean;
  /** Leave the picture out: an audio-only file (for "not a video" cases). */
  video?: boolean;
  /** Clockwise degrees a player should turn the picture: 0, 90, 180, 270 (mp4 only). */
  rotation?: 0 | 90 | 180 | 270;
  /** Sample aspect ratio "num:den" for anamorphic clips (default square). */
  sar?: string;
  container?: 'mp4' | 'mkv';
  /** moov before mdat (default false: moov at the end, like phone recordings). */
  faststart?: boolean;
}

let counter = 0;
const cache = new Map<string, Promise<string>>();

async function ffmpeg(args: string[]): Promise<void> {
  await run(FFMPEG, ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args], { maxBuffer: 16 * 1024 * 1024 });
}

/** Clockwise rotation ffprobe reads back from the display matrix (it prints counter-clockwise). */
async function rotationOnDisk(path: string): Promise<number> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream_side_data=rotation', '-of', 'csv=p=0', path]);
  const ccw = Number(stdout.trim().split(/\s+/)[0] || 0);
  return (((-ccw % 360) + 360) % 360);
}

/**
 * Sets the display rotation by remuxing. ffmpeg 5.1 has no -display_rotation, and its
 * `-metadata:s:v rotate=N` comes out of the muxer as a counter-clockwise matrix (rotate=90 plays
 * turned 90° anticlockwise), the opposite of the legacy tag's meaning. So try both spellings and
 * keep the one ffprobe reads back as the rotation asked for.
 */
async function remuxRotated(src: string, dst: string, cw: number): Promise<void> {
  for (const tag of [(360 - cw) % 360, cw]) {
    await ffmpeg(['-i', src, '-map', '0', '-c', 'copy', '-metadata:s:v:0', `rotate=${tag}`, dst]);
    if ((await rotationOnDisk(dst)) === cw) return;
  }
  // ffmpeg 6+: the display matrix is set as an input option instead.
  await ffmpeg(['-display_rotation:v:0', String((360 - cw) % 360), '-i', src, '-map', '0', '-c', 'copy', dst]).catch(() => undefined);
  const got = await rotationOnDisk(dst).catch(() => -1);
  if (got !== cw) throw new Error(`could not make a clip rotated ${cw}° with this ffmpeg (display matrix reads back as ${got}°)`);
}

async function build(o: Required<Omit<ClipOptions, 'sar'>> & { sar?: string }): Promise<string> {
  const base = join(CLIP_DIR, `clip-${++counter}`);
  const out = `${base}.${o.container}`;
  const plain = o.rotation ? `${base}-plain.${o.container}` : out;
  const args: string[] = [];
  if (o.video) args.push('-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}:duration=${o.duration}`);
  if (o.audio || !o.video) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${o.duration}`);
  if (o.video) {
    const vf = o.sar ? [`setsar=${o.sar.replace(':', '/')}`] : [];
    args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', String(o.fps), ...(vf.length ? ['-vf', vf.join(',')] : []));
  }
  if (o.audio || !o.video) args.push('-c:a', o.container === 'mkv' ? 'ac3' : 'aac');
  if (o.container === 'mp4' && o.faststart) args.push('-movflags', '+faststart');
  await ffmpeg([...args, plain]);
  if (o.rotation) await remuxRotated(plain, out, o.rotation);
  return out;
}

export function makeClip(options: ClipOptions = {}): Promise<string> {
  const o = {
    duration: 2,
    width: 320,
    height: 240,
    fps: 25,
    audio: false,
    video: true,
    rotation: 0 as const,
    container: 'mp4' as const,
    faststart: false,
    ...options,
  };
  const key = JSON.stringify(o);
  let pending = cache.get(key);
  if (!pending) {
    pending = build(o);
    cache.set(key, pending);
  }
  return pending;
}

const special = new Map<string, Promise<string>>();

/** A clip made once per test file from raw ffmpeg arguments (output path appended). */
function madeOnce(name: string, args: string[]): Promise<string> {
  let pending = special.get(name);
  if (!pending) {
    const out = join(CLIP_DIR, name);
    pending = ffmpeg([...args, out]).then(() => out);
    special.set(name, pending);
  }
  return pending;
}

const X264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '25'];

/** 2 s of black, then 4 s of test pattern (320x240, 25 fps, a keyframe every second). */
export function makeBlackStartClip(): Promise<string> {
  return madeOnce('black-start.mp4', [
    '-f', 'lavfi', '-i', 'color=c=black:s=320x240:r=25:d=2', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=4',
    '-filter_complex', '[0:v][1:v]concat=n=2:v=1[v]', '-map', '[v]', ...X264,
  ]);
}

/** 3 s of black only. */
export function makeBlackClip(): Promise<string> {
  return madeOnce('black.mp4', ['-f', 'lavfi', '-i', 'color=c=black:s=320x240:r=25:d=3', ...X264]);
}

/** 3 s of test pattern with one black frame at 1.000 s (frame 25): a "flash" no thumbnail should show. */
export function makeFlashClip(): Promise<string> {
  return madeOnce('flash.mp4', ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=3', '-vf', "drawbox=c=black:t=fill:enable='eq(n,25)'", ...X264]);
}

/** 576i25 H.264, top field first, SAR 64:45, woven from 50p motion: frames not deinterlaced comb. */
export function makeInterlacedClip(): Promise<string> {
  return madeOnce('interlaced.mp4', [
    '-f', 'lavfi', '-i', 'testsrc2=size=720x576:rate=50:duration=4', '-vf', 'interlace=scan=tff,setsar=64/45',
    ...X264, '-flags', '+ildct+ilme', '-x264-params', 'tff=1',
  ]);
}

/** A moov-at-end MP4 cut in half: the index is gone, as after an interrupted download. */
export async function makeTruncatedMp4(): Promise<string> {
  const whole = await makeClip({ duration: 4, audio: true, faststart: false });
  const out = join(CLIP_DIR, 'truncated.mp4');
  const { size } = await stat(whole);
  const half = Buffer.alloc(Math.floor(size / 2));
  const fh = await open(whole, 'r');
  try {
    await fh.read(half, 0, half.length, 0);
  } finally {
    await fh.close();
  }
  await writeFile(out, half);
  return out;
}

/** A text file with a video extension. */
export async function makeTextFile(name = 'notes.mp4'): Promise<string> {
  const out = join(CLIP_DIR, name);
  await writeFile(out, 'This is a shopping list, not a video.\neggs\nmilk\n');
  return out;
}

/** A copy of a clip under another name (e.g. one containing words the error classifier looks for). */
export async function copyClip(src: string, name: string): Promise<string> {
  const out = join(CLIP_DIR, name);
  await copyFile(src, out);
  return out;
}

export interface RecordedContext {
  ctx: TaskContext;
  artifacts: ProducedArtifact[];
  progress: ProgressUpdate[];
  logs: string[];
  /** Every checkpoint the kind saved, in order. */
  checkpoints: unknown[];
  controller: AbortController;
}

/**
 * A TaskContext for running a kind directly: private workDir, artifacts/progress/logs recorded.
 * Contexts given one `jobArtifacts` map act as tasks of one job: what one emits (name → local
 * file) another can download.
 */
export function taskContext(input: string, params: Record<string, unknown> = {}, resumeData: unknown = null, jobArtifacts = new Map<string, string>()): RecordedContext {
  const controller = new AbortController();
  const artifacts: ProducedArtifact[] = [];
  const progress: ProgressUpdate[] = [];
  const logs: string[] = [];
  const checkpoints: unknown[] = [];
  const ctx: TaskContext = {
    input,
    params,
    resumeData,
    saveResumeData: (data) => checkpoints.push(data),
    workDir: mkdtempSync(join(CLIP_DIR, 'work-')),
    signal: controller.signal,
    onProgress: (u) => progress.push(u),
    jobId: 'job_test',
    emitArtifact: async (a) => {
      artifacts.push(a);
      jobArtifacts.set(a.name, a.path);
    },
    downloadArtifact: async (name, path) => {
      const from = jobArtifacts.get(name);
      if (!from) throw new VidfleetError('ARTIFACT_NOT_FOUND', `Job job_test has no artifact "${name}".`);
      await copyFile(from, path);
    },
    log: (line) => logs.push(line),
    toolLog: (line) => logs.push(line),
  };
  return { ctx, artifacts, progress, logs, checkpoints, controller };
}

export interface MediaServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A loopback HTTP server for network inputs: GET /file?path=… serves a local file with Range
 * support (ffmpeg seeks with ranges), /status/NNN answers that status, /stall sends headers and
 * then nothing, so a reader hangs until it is stopped.
 */
export async function startMediaServer(): Promise<MediaServer> {
  const stalled = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const status = /^\/status\/(\d{3})/.exec(url.pathname);
      if (status) return void res.writeHead(Number(status[1])).end('no');
      if (url.pathname.startsWith('/stall')) {
        stalled.add(res);
        return void res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': '100000000' }).flushHeaders();
      }
      const path = url.searchParams.get('path') ?? '';
      const size = (await stat(path)).size;
      const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Number(range[2]) : size - 1;
      res.writeHead(range ? 206 : 200, {
        'accept-ranges': 'bytes',
        'content-length': String(end - start + 1),
        ...(range && { 'content-range': `bytes ${start}-${end}/${size}` }),
      });
      createReadStream(path, { start, end }).pipe(res);
    })().catch(() => res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of stalled) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Whether an ffmpeg process whose arguments contain `token` (a unique file name) is running. */
async function ffmpegRunningWith(token: string): Promise<boolean> {
  const { stdout } = await run('ps', ['-eo', 'args']);
  return stdout.split('\n').some((l) => l.startsWith('ffmpeg ') && l.includes(token));
}

/**
 * Runs a kind on a uniquely named copy of `clip`, aborts as soon as its ffmpeg is running, and
 * reports what the kind did with the abort: what it rejected with (should be the reason itself)
 * and whether any of its ffmpeg outlived it.
 */
export async function cancelWhileFfmpegRuns(runKind: (ctx: TaskContext) => Promise<unknown>, clip: string, params: Record<string, unknown>) {
  const token = randomUUID();
  const rec = taskContext(await copyClip(clip, `cancel-${token}.mp4`), params);
  const outcome = runKind(rec.ctx).then(
    () => null,
    (e: unknown) => e,
  );
  while (!(await ffmpegRunningWith(token))) await new Promise((r) => setTimeout(r, 20));
  const reason = new VidfleetError('TASK_NOT_RUNNABLE', 'Attempt stopped: cancel');
  rec.controller.abort(reason);
  const rejectedWith = await outcome;
  return { rec, reason, rejectedWith, ffmpegLeft: await ffmpegRunningWith(token) };
}
