// `thumbnail`: one still image. A fixed time costs one ffmpeg run (plus reading the image's
// size back); a fraction needs the duration, so it probes first. Seeking is on the input side
// (-ss before -i: jump to the keyframe before, decode forward to the exact time), rotation comes
// from ffmpeg's autorotate, and the scale filter works in display aspect so anamorphic and
// rotated sources come out as a player shows them.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VidfleetError, type ProbeReport, type ThumbnailFormat, type ThumbnailParams, type ThumbnailResult } from '../../protocol/index.js';
import { hasEncoder } from '../capabilities.js';
import { classifyFailure, readInputHead, stderrShowsCorruption } from '../errors.js';
import { imageFileSize } from '../image-size.js';
import { probeFile } from '../probe.js';
import { ffmpegBinary, ffmpegInputArg, PROTOCOL_WHITELIST, runProcess } from '../process.js';
import { createProgressParser } from '../progress.js';
import type { KindRunner, TaskContext } from './kind.js';

const DEFAULT_FRACTION = 0.1;
const DEFAULT_QUALITY = 85;
const FFMPEG_TIMEOUT_MS = 5 * 60_000;

/** 1-100 (higher is better) onto mjpeg's -q:v 31..2 (lower is better). */
export function jpegQscale(quality: number): number {
  const q = Math.min(100, Math.max(1, quality));
  return Math.round(2 + ((100 - q) * 29) / 99);
}

/**
 * The filter chain after autorotate. `sar` and `dar` in scale expressions are those of the
 * (already rotated) input, so sizes follow the display aspect; setsar=1 then makes the pixels
 * square so image viewers, which ignore SAR, show the same shape.
 */
export function scaleFilter(width?: number, height?: number): string {
  let w: string;
  let h: string;
  if (width && height) {
    // Fit inside the box, keeping the display aspect.
    w = `min(${width}\\,max(1\\,round(${height}*dar)))`;
    h = `min(${height}\\,max(1\\,round(${width}/dar)))`;
  } else if (width) {
    w = String(width);
    h = `max(1\\,round(${width}/dar))`;
  } else if (height) {
    w = `max(1\\,round(${height}*dar))`;
    h = String(height);
  } else {
    w = 'round(iw*sar)';
    h = 'ih';
  }
  return `scale=w=${w}:h=${h},setsar=1`;
}

interface Grab {
  wrote: boolean;
  stderr: string;
}

async function grabFrame(ctx: TaskContext, time: number, map: string, out: string, format: ThumbnailFormat, params: ThumbnailParams, progressBase: number): Promise<Grab> {
  const arg = ffmpegInputArg(ctx.input);
  const quality = params.quality ?? DEFAULT_QUALITY;
  const codec =
    format === 'webp' ? ['-c:v', 'libwebp', '-quality', String(quality), '-lossless', '0'] : ['-c:v', 'mjpeg', '-q:v', String(jpegQscale(quality))];
  const args = [
    '-hide_banner', '-nostdin', '-v', 'error', '-nostats', '-progress', 'pipe:1',
    '-protocol_whitelist', PROTOCOL_WHITELIST,
    '-ss', time.toFixed(6), '-i', arg,
    '-map', map, '-frames:v', '1', '-an', '-sn', '-dn',
    '-vf', scaleFilter(params.width, params.height),
    ...codec,
    '-f', 'image2', '-update', '1', '-y', out,
  ];
  ctx.log(`ffmpeg ${args.join(' ')}`);
  await rm(out, { force: true });
  const span = 0.9 - progressBase;
  const parser = createProgressParser((s) => {
    ctx.onProgress({ progress: progressBase + (s.done ? span : span / 2), ...(s.fps !== null && { fps: s.fps }), ...(s.speed !== null && { speed: s.speed }) });
  });
  const res = await runProcess(ffmpegBinary(), args, { signal: ctx.signal, timeoutMs: FFMPEG_TIMEOUT_MS, onStdout: (t) => parser.push(t), onStderrLine: ctx.toolLog });
  parser.end();
  if (res.exitCode !== 0) {
    const head = await readInputHead(arg);
    throw classifyFailure({ tool: 'ffmpeg', input: ctx.input, inputArg: arg, stderr: res.stderr, exitCode: res.exitCode, action: 'could not take a thumbnail of', head });
  }
  const size = await stat(out).then((s) => s.size, () => 0);
  return { wrote: size > 0, stderr: res.stderr };
}

/** Seconds of the main video: its own duration when known (audio can run longer), else the container's. */
function videoDuration(probe: ProbeReport): number | null {
  const v = probe.primaryVideo === null ? undefined : probe.streams[probe.primaryVideo];
  return v?.duration ?? probe.duration;
}

/** Keeps a fraction-derived time a couple of frames before the end, where a frame still starts. */
function timeForFraction(fraction: number, duration: number, frameRate: number | null): number {
  const interval = frameRate && frameRate > 0 && frameRate <= 300 ? 1 / frameRate : 0.05;
  const t = Math.max(0, Math.min(fraction * duration, duration - 2 * interval));
  return Math.round(t * 1e6) / 1e6; // ffmpeg gets microseconds anyway; keep the result readable
}

function corruptError(input: string, line: string, time: number): VidfleetError {
  return new VidfleetError('INPUT_CORRUPT', `No video frame could be decoded from ${input} at ${time.toFixed(3)} s: the file is damaged or truncated (ffmpeg: "${line}"). Re-export or re-download it.`);
}

async function outOfRange(ctx: TaskContext, time: number, probe: ProbeReport | null): Promise<VidfleetError> {
  const report = probe ?? (await probeFile(ctx.input, { signal: ctx.signal }));
  const video = videoDuration(report);
  if (video === null) {
    return new VidfleetError('TIME_OUT_OF_RANGE', `${ctx.input} has no video frame at or after ${time.toFixed(3)} s, and its duration is unknown (the container declares none). Pick an earlier time, or fraction 0 for the first frame.`);
  }
  const declared = report.duration !== null && report.duration - video > 0.5 ? ` (the file as a whole declares ${report.duration.toFixed(3)} s, but its video ends earlier)` : '';
  return new VidfleetError(
    'TIME_OUT_OF_RANGE',
    `${time.toFixed(3)} s is past the last video frame of ${ctx.input}: the video is ${video.toFixed(3)} s long${declared}. Pick a time below ${video.toFixed(3)} s, or a fraction like 0.5.`,
    { details: { time, duration: video } },
  );
}

export const thumbnailRunner: KindRunner = {
  name: 'thumbnail',
  async run(ctx: TaskContext): Promise<ThumbnailResult> {
    const params = ctx.params as ThumbnailParams;
    const format: ThumbnailFormat = params.format ?? 'jpeg';
    if (format === 'webp' && !(await hasEncoder('libwebp'))) {
      throw new VidfleetError('FFMPEG_MISSING', "This worker's ffmpeg has no WebP encoder (libwebp); run the job on a worker whose ffmpeg is built with libwebp, or ask for format jpeg.");
    }
    ctx.onProgress({ progress: 0, message: 'starting' });
    const warn = (w: string): void => ctx.log(`thumbnail: warning: ${w}`);

    let probe: ProbeReport | null = null;
    let time: number;
    let map = '0:V:0'; // first video stream that is not cover art
    const byFraction = params.time === undefined;
    if (!byFraction) {
      time = params.time ?? 0;
    } else {
      const fraction = params.fraction ?? DEFAULT_FRACTION;
      probe = await probeFile(ctx.input, { signal: ctx.signal });
      const primary = probe.streams[probe.primaryVideo ?? 0];
      if (primary) map = `0:${primary.index}`;
      const duration = videoDuration(probe);
      if (duration === null) {
        time = 0;
        if (fraction > 0) warn(`the duration of ${ctx.input} is unknown, so fraction ${fraction} cannot be placed; used the first frame.`);
      } else {
        time = timeForFraction(fraction, duration, primary?.video?.frameRate ?? null);
      }
      ctx.onProgress({ progress: 0.2, message: 'probed' });
    }

    const name = `thumbnail.${format === 'webp' ? 'webp' : 'jpg'}`;
    const out = join(ctx.workDir, name);
    let grab = await grabFrame(ctx, time, map, out, format, params, probe ? 0.2 : 0);
    if (!grab.wrote) {
      const corrupt = stderrShowsCorruption(grab.stderr, ffmpegInputArg(ctx.input));
      if (corrupt) throw corruptError(ctx.input, corrupt, time);
      if (!byFraction || time === 0) {
        if (time === 0) throw new VidfleetError('INPUT_CORRUPT', `ffmpeg decoded no video frame at all from ${ctx.input}; the video stream is empty or undecodable.`);
        throw await outOfRange(ctx, time, probe);
      }
      // Inside the declared duration yet no frame: the video track ends long before the
      // container says (and no per-stream duration told us), or its timestamps are broken.
      // For "a frame from around here" the first frame beats no thumbnail.
      warn(`no video frame at ${time.toFixed(3)} s although ${ctx.input} declares a longer duration (broken timestamps?); used the first frame.`);
      time = 0;
      grab = await grabFrame(ctx, time, map, out, format, params, 0.5);
      if (!grab.wrote) {
        const line = stderrShowsCorruption(grab.stderr, ffmpegInputArg(ctx.input));
        throw line ? corruptError(ctx.input, line, 0) : new VidfleetError('INPUT_CORRUPT', `ffmpeg decoded no video frame at all from ${ctx.input}.`);
      }
    }
    if (grab.stderr.trim()) ctx.log(`thumbnail: ffmpeg reported while decoding: ${grab.stderr.trim().split('\n').slice(-5).join(' | ')}`);

    const image = await imageFileSize(out);
    if (!image?.width || !image.height) throw new VidfleetError('FFMPEG_FAILED', `ffmpeg wrote ${name} but it cannot be read back as an image.`);
    await ctx.emitArtifact({ name, path: out, contentType: format === 'webp' ? 'image/webp' : 'image/jpeg' });
    ctx.onProgress({ progress: 1, message: 'done' });
    return { time, width: image.width, height: image.height, format, artifact: name };
  },
};
