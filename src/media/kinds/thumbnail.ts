// `thumbnail`: one still image. At a fixed time it costs one ffmpeg run and no probe: that
// run's own log (the input dump, printed before decoding starts) says whether the source needs
// more than the default chain — HDR to tone-map, or interlaced and rotated — and only then is
// ffmpeg stopped and started again with the right chain. Measured on 1080p H.264: the default
// chain (flag-driven deinterlacer, showinfo) costs the same as plain scaling within noise
// (~110-130 ms), where an ffprobe first added 70-85 ms. A fraction needs the duration and
// mode `best` the frame rate, so those probe first. Seeking is
// on the input side (-ss before -i: jump to the keyframe before, decode forward to the exact
// time); what the image goes through is the shared still chain (see ../stills.ts).
import { join } from 'node:path';
import { VidfleetError, type ProbeReport, type ProbeVideo, type ThumbnailFormat, type ThumbnailParams, type ThumbnailResult } from '../../protocol/index.js';
import { hasFilter } from '../capabilities.js';
import { stderrShowsCorruption } from '../errors.js';
import { grabStills, requireStillEncoder, taskSide, type GrabResult } from '../grab.js';
import { imageFileSize } from '../image-size.js';
import { probeFile } from '../probe.js';
import { ffmpegInputArg } from '../process.js';
import { STILL_FORMATS, stillChain, stillEncoderArgs, toneMapOf, unknownChainFits, type StillSource } from '../stills.js';
import type { KindRunner, TaskContext } from './kind.js';

const DEFAULT_FRACTION = 0.1;
const DEFAULT_QUALITY = 85;
const FFMPEG_TIMEOUT_MS = 5 * 60_000;
/** mode best compares about this many seconds of frames, centred on the position. */
const BEST_WINDOW_S = 2;

/** Seconds of the main video: its own duration when known (audio can run longer), else the container's. */
export function videoDuration(probe: ProbeReport): number | null {
  const v = probe.primaryVideo === null ? undefined : probe.streams[probe.primaryVideo];
  return v?.duration ?? probe.duration;
}

/** A frame rate worth computing with: declared rates above 300 fps are broken timestamps. */
export function usableFrameRate(fps: number | null | undefined): number | null {
  return fps && fps > 0 && fps <= 300 ? fps : null;
}

/** Keeps a time a couple of frames before the end, where a frame still starts. */
export function lastFrameTime(t: number, duration: number, frameRate: number | null): number {
  const rate = usableFrameRate(frameRate);
  const interval = rate ? 1 / rate : 0.05;
  const clamped = Math.max(0, Math.min(t, duration - 2 * interval));
  return Math.round(clamped * 1e6) / 1e6; // ffmpeg gets microseconds anyway; keep the result readable
}

function corruptError(input: string, line: string, time: number): VidfleetError {
  return new VidfleetError('INPUT_CORRUPT', `No video frame could be decoded from ${input} at ${time.toFixed(3)} s: the file is damaged or truncated (ffmpeg: "${line}"). Re-export or re-download it.`);
}

/** A time past the video's end, as an error that names the duration. */
export function outOfRangeError(input: string, time: number, probe: ProbeReport): VidfleetError {
  const video = videoDuration(probe);
  if (video === null) {
    return new VidfleetError('TIME_OUT_OF_RANGE', `${input} has no video frame at or after ${time.toFixed(3)} s, and its duration is unknown (the container declares none). Pick an earlier time, or fraction 0 for the first frame.`);
  }
  const declared = probe.duration !== null && probe.duration - video > 0.5 ? ` (the file as a whole declares ${probe.duration.toFixed(3)} s, but its video ends earlier)` : '';
  return new VidfleetError(
    'TIME_OUT_OF_RANGE',
    `${time.toFixed(3)} s is past the last video frame of ${input}: the video is ${video.toFixed(3)} s long${declared}. Pick a time below ${video.toFixed(3)} s, or a fraction like 0.5.`,
    { details: { time, duration: video } },
  );
}

/** mode best: how many frames the thumbnail filter compares, and the seconds they span. */
function bestWindow(frameRate: number | null | undefined): { frames: number; seconds: number } {
  const fps = usableFrameRate(frameRate) ?? 25;
  const frames = Math.min(60, Math.max(10, Math.round(fps * BEST_WINDOW_S)));
  return { frames, seconds: frames / fps };
}

function describe(v: StillSource): string {
  const tone = toneMapOf(v);
  if (!tone) return `interlaced and rotated ${v.rotation}°`;
  return tone.assumed ? 'untagged 10-bit BT.2020 (taken as HDR10)' : tone.curve.toUpperCase();
}

export const thumbnailRunner: KindRunner = {
  name: 'thumbnail',
  async run(ctx: TaskContext): Promise<ThumbnailResult> {
    const params = ctx.params as ThumbnailParams;
    const format: ThumbnailFormat = params.format ?? 'jpeg';
    const best = params.mode === 'best';
    await requireStillEncoder(format);
    ctx.onProgress({ progress: 0, message: 'starting' });
    const warn = (w: string): void => ctx.log(`thumbnail: warning: ${w}`);

    let probe: ProbeReport | null = null;
    let source: ProbeVideo | null = null;
    let time = params.time ?? 0;
    let stream = 'V:0'; // first video stream that is not cover art
    const byFraction = params.time === undefined;
    if (byFraction || best) {
      probe = await probeFile(ctx.input, { signal: ctx.signal });
      const primary = probe.streams[probe.primaryVideo ?? 0];
      if (primary) stream = String(primary.index);
      source = primary?.video ?? null;
      if (byFraction) {
        const fraction = params.fraction ?? DEFAULT_FRACTION;
        const duration = videoDuration(probe);
        if (duration === null) {
          time = 0;
          if (fraction > 0) warn(`the duration of ${ctx.input} is unknown, so fraction ${fraction} cannot be placed; used the first frame.`);
        } else {
          time = lastFrameTime(fraction * duration, duration, source?.frameRate ?? null);
        }
      }
      ctx.onProgress({ progress: 0.2, message: 'probed' });
    }

    const zscale = await hasFilter('zscale');
    const window = best ? bestWindow(source?.frameRate) : null;
    const name = `thumbnail.${STILL_FORMATS[format].extension}`;
    const out = join(ctx.workDir, name);
    const startOf = (at: number): number => (window ? Math.max(0, Math.round((at - window.seconds / 2) * 1e6) / 1e6) : at);
    const shoot = (at: number, src: StillSource | null, progressBase: number, stopWhen?: (seen: ProbeVideo) => boolean): Promise<GrabResult> => {
      const options = { width: params.width, height: params.height, format, zscale, pick: window ? [`thumbnail=n=${window.frames}`] : [] };
      for (const w of stillChain(src, { ...options, tag: 'x' }).warnings) warn(w);
      const span = 0.9 - progressBase;
      return grabStills(
        {
          ...taskSide(ctx),
          stream,
          chain: (tag) => stillChain(src, { ...options, tag }),
          encoderArgs: stillEncoderArgs(format, params.quality ?? DEFAULT_QUALITY),
          action: 'could not take a thumbnail of',
          timeoutMs: FFMPEG_TIMEOUT_MS,
          onProgress: (s) =>
            ctx.onProgress({ progress: progressBase + (s.done ? span : span / 2), ...(s.fps !== null && { fps: s.fps }), ...(s.speed !== null && { speed: s.speed }) }),
        },
        [{ time: startOf(at), seek: 'exact', out }],
        stopWhen ? { stopWhen } : {},
      );
    };

    // Without a probe, the first run starts with the chain that fits most video; if its input
    // dump shows otherwise, it is stopped before decoding and the frame is taken again.
    let grab = await shoot(time, source, probe ? 0.2 : 0, probe ? undefined : (seen) => !unknownChainFits(seen));
    if (grab.stopped && grab.sniffed) {
      ctx.log(`thumbnail: the video is ${describe(grab.sniffed)}; stopped ffmpeg before it decoded and started it again with the matching filter chain`);
      source = grab.sniffed;
      grab = await shoot(time, source, 0.1);
    } else if (!probe && !grab.sniffed && grab.shots[0]?.wrote) {
      // The log did not describe the stream (cut from it?): ask ffprobe rather than guess.
      const seen = (await probeFile(ctx.input, { signal: ctx.signal }).then((p) => p.streams[p.primaryVideo ?? 0]?.video)) ?? null;
      if (seen && !unknownChainFits(seen)) {
        ctx.log(`thumbnail: the video is ${describe(seen)}; taking the frame again through the matching filter chain`);
        source = seen;
        grab = await shoot(time, source, 0.5);
      }
    }
    if (!grab.shots[0]?.wrote) {
      const corrupt = stderrShowsCorruption(grab.problems, ffmpegInputArg(ctx.input));
      if (corrupt) throw corruptError(ctx.input, corrupt, time);
      if (!byFraction || time === 0) {
        if (time === 0) throw new VidfleetError('INPUT_CORRUPT', `ffmpeg decoded no video frame at all from ${ctx.input}; the video stream is empty or undecodable.`);
        throw outOfRangeError(ctx.input, time, probe ?? (await probeFile(ctx.input, { signal: ctx.signal })));
      }
      // Inside the declared duration yet no frame: the video track ends long before the
      // container says (and no per-stream duration told us), or its timestamps are broken.
      // For "a frame from around here" the first frame beats no thumbnail.
      warn(`no video frame at ${time.toFixed(3)} s although ${ctx.input} declares a longer duration (broken timestamps?); used the first frame.`);
      time = 0;
      grab = await shoot(time, source, 0.5);
      if (!grab.shots[0]?.wrote) {
        const line = stderrShowsCorruption(grab.problems, ffmpegInputArg(ctx.input));
        throw line ? corruptError(ctx.input, line, 0) : new VidfleetError('INPUT_CORRUPT', `ffmpeg decoded no video frame at all from ${ctx.input}.`);
      }
    }
    if (grab.problems.trim()) ctx.log(`thumbnail: ffmpeg reported while decoding: ${grab.problems.trim().split('\n').slice(-5).join(' | ')}`);

    const image = await imageFileSize(out);
    if (!image?.width || !image.height) throw new VidfleetError('FFMPEG_FAILED', `ffmpeg wrote ${name} but it cannot be read back as an image.`);
    await ctx.emitArtifact({ name, path: out, contentType: STILL_FORMATS[format].contentType });
    ctx.onProgress({ progress: 1, message: 'done' });
    if (!window) return { time, width: image.width, height: image.height, format, artifact: name };
    const chosen = grab.shots[0]?.actualTime ?? startOf(time);
    return { time: chosen, requestedTime: time, width: image.width, height: image.height, format, artifact: name };
  },
};
