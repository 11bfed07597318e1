// `screenshots`: N images, evenly spaced or at given times. It always probes (it needs the
// duration, and the chain needs to know HDR/interlacing), then takes the images in batches, one
// ffmpeg process per batch (see ../grab.ts for why and the numbers). Each image is uploaded as
// soon as its batch is done and named in the checkpoint, so a later attempt — after a crash, a
// lost lease or a network error — takes only the missing ones and still returns the full list.
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { VidfleetError, type ProbeVideo, type Screenshot, type ScreenshotsParams, type ScreenshotsResult } from '../../protocol/index.js';
import { hasFilter } from '../capabilities.js';
import { measureVideoDuration, unknownLengthError } from '../duration.js';
import { stderrShowsCorruption } from '../errors.js';
import { grabStills, requireStillEncoder, type GrabRequest, type SeekMode, type ShotOutcome } from '../grab.js';
import { imageFileSize } from '../image-size.js';
import { probeFile } from '../probe.js';
import { ffmpegInputArg } from '../process.js';
import { isBlank, STILL_FORMATS, stillChain, stillEncoderArgs, type StillFormat } from '../stills.js';
import type { KindRunner, TaskContext } from './kind.js';
import { artifactName, batchSize, BLANK_TRIES, planShots, reusableShots, type PlannedShot, type ScreenshotsCheckpoint } from './screenshots-plan.js';
import { usableFrameRate, videoDuration } from './thumbnail.js';

const DEFAULT_QUALITY = 85;
const FFMPEG_TIMEOUT_MS = 10 * 60_000;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

interface Taken {
  outcome: ShotOutcome;
  movedFromBlank?: true;
  blank?: true;
}

class Shooter {
  constructor(
    private readonly ctx: TaskContext,
    private readonly req: GrabRequest,
    private readonly mode: 'keyframe' | 'exact',
    private readonly format: StillFormat,
    private readonly duration: number,
    /** Seconds after the time beyond which an exact frame counts as late: two frames. */
    private readonly lateBy: number,
  ) {}

  private async single(time: number, seek: SeekMode, out: string): Promise<ShotOutcome & { problems: string }> {
    const grab = await grabStills(this.req, [{ time, seek, out }]);
    return { ...(grab.shots[0] ?? { wrote: false, actualTime: null, luma: null }), problems: grab.problems };
  }

  /** No frame where one should be: exact seeks can miss at a timestamp gap, so try the keyframe before. */
  async recover(shot: PlannedShot, out: string, problems: string): Promise<ShotOutcome> {
    const at = shot.seekTime.toFixed(3);
    if (this.mode === 'exact') {
      const retry = await this.single(shot.seekTime, 'keyframe', out);
      if (retry.wrote) {
        this.ctx.log(`screenshots: warning: no frame at exactly ${at} s (a timestamp gap?); took the keyframe at or before it`);
        return retry;
      }
      problems = retry.problems || problems;
    }
    const line = stderrShowsCorruption(problems, ffmpegInputArg(this.ctx.input));
    const said = line ? ` (ffmpeg: "${line}")` : '';
    throw new VidfleetError(
      'INPUT_CORRUPT',
      `ffmpeg decoded no video frame at or before ${at} s of ${this.ctx.input}, although its video is ${this.duration.toFixed(3)} s long: the file is damaged or truncated${said}. Re-export or re-download it.`,
      { details: { time: shot.time } },
    );
  }

  /**
   * Exact mode: a frame well after the time means the demuxer's seek overshot (MXF without an
   * index: 1.773 s gave 2.333 s) or the source has a gap there (screen recordings); seek earlier
   * and let the chain drop frames up to the time, and keep that if it lands closer.
   */
  async settle(shot: PlannedShot, first: ShotOutcome, out: string): Promise<ShotOutcome> {
    if (this.mode !== 'exact' || first.actualTime === null || first.actualTime - shot.seekTime <= this.lateBy) return first;
    const candidate = `${out}.early.${STILL_FORMATS[this.format].extension}`;
    const got = await this.single(shot.seekTime, 'exact-preroll', candidate);
    if (got.wrote && got.actualTime !== null && Math.abs(got.actualTime - shot.seekTime) < first.actualTime - shot.seekTime) {
      await rename(candidate, out);
      this.ctx.log(`screenshots: #${shot.index}: seeking to ${shot.seekTime.toFixed(3)} s landed at ${first.actualTime.toFixed(3)} s; decoding from earlier gave ${got.actualTime.toFixed(3)} s`);
      return got;
    }
    await rm(candidate, { force: true });
    return first;
  }

  /** Looks up to BLANK_TRIES steps later for a frame that is not black or flat; keeps the original if all are. */
  async pastBlank(shot: PlannedShot, first: ShotOutcome, out: string): Promise<Taken> {
    const limit = Math.min(this.duration, shot.time + BLANK_TRIES * shot.blankStep + shot.blankStep / 2);
    let from = first.actualTime ?? shot.seekTime;
    for (let i = 1; i <= BLANK_TRIES; i++) {
      const candidate = `${out}.try${i}.${STILL_FORMATS[this.format].extension}`;
      // Keyframe mode moves to the next keyframe after a step; a step inside the GOP would land on the same one.
      const time = this.mode === 'keyframe' ? from + shot.blankStep : shot.seekTime + i * shot.blankStep;
      if (time >= limit) break;
      const got = await this.single(time, this.mode === 'keyframe' ? 'next-keyframe' : 'exact', candidate);
      if (!got.wrote || (got.actualTime !== null && got.actualTime >= limit)) {
        await rm(candidate, { force: true });
        break;
      }
      if (!got.luma || !isBlank(got.luma, this.format)) {
        await rename(candidate, out);
        return { outcome: got, movedFromBlank: true };
      }
      await rm(candidate, { force: true });
      from = got.actualTime ?? time;
    }
    return { outcome: first, blank: true };
  }
}

export const screenshotsRunner: KindRunner = {
  name: 'screenshots',
  async run(ctx: TaskContext): Promise<ScreenshotsResult> {
    const params = ctx.params as ScreenshotsParams;
    const format: StillFormat = params.format ?? 'jpeg';
    const mode = params.mode ?? 'keyframe';
    await requireStillEncoder(format);
    ctx.onProgress({ progress: 0, message: 'starting' });

    const probe = await probeFile(ctx.input, { signal: ctx.signal });
    const primary = probe.streams[probe.primaryVideo ?? 0];
    const video: ProbeVideo | undefined = primary?.video;
    if (!primary || !video) throw new VidfleetError('NOT_A_VIDEO', `${ctx.input} has no usable video stream.`);
    let duration = videoDuration(probe);
    if (duration === null) {
      ctx.log(`screenshots: ${ctx.input} declares no duration; reading its packet timestamps to measure it`);
      duration = await measureVideoDuration(ctx.input, primary.index, { signal: ctx.signal });
      if (duration === null) throw unknownLengthError(ctx.input);
      ctx.log(`screenshots: measured ${duration.toFixed(3)} s of video`);
    }
    const plan = planShots(params, duration, video.frameRate, ctx.input);
    const done = reusableShots(ctx.resumeData, plan, mode, format);
    if (done.size) ctx.log(`screenshots: ${done.size} of ${plan.length} were stored by an earlier attempt; taking only the other ${plan.length - done.size}`);
    ctx.onProgress({ progress: 0.05 + (0.95 * done.size) / plan.length, message: 'probed' });

    const zscale = await hasFilter('zscale');
    const chainOptions = { width: params.width, height: params.height, format, zscale };
    for (const w of stillChain(video, { ...chainOptions, tag: 'x' }).warnings) ctx.log(`screenshots: warning: ${w}`);
    const req: GrabRequest = {
      input: ctx.input,
      stream: String(primary.index),
      chain: (tag) => stillChain(video, { ...chainOptions, tag }),
      encoderArgs: stillEncoderArgs(format, params.quality ?? DEFAULT_QUALITY),
      signal: ctx.signal,
      log: ctx.log,
      toolLog: ctx.toolLog,
      action: 'could not take screenshots of',
      timeoutMs: FFMPEG_TIMEOUT_MS,
    };
    const shooter = new Shooter(ctx, req, mode, format, duration, 2 / (usableFrameRate(video.frameRate) ?? 25));
    let made = 0;
    const todo = plan.filter((p) => !done.has(p.index));
    for (const batch of chunks(todo, batchSize(mode, video.width, video.height))) {
      const outs = batch.map((p) => join(ctx.workDir, artifactName(p.index, format)));
      const grab = await grabStills(req, batch.map((p, i) => ({ time: p.seekTime, seek: mode, out: outs[i] ?? '' })));
      if (grab.problems.trim()) ctx.log(`screenshots: ffmpeg reported: ${grab.problems.trim().split('\n').slice(-5).join(' | ')}`);
      for (const [i, shot] of batch.entries()) {
        const out = outs[i] ?? '';
        const first = grab.shots[i];
        let taken: Taken = { outcome: first?.wrote ? await shooter.settle(shot, first, out) : await shooter.recover(shot, out, grab.problems) };
        if (params.skipBlank && taken.outcome.luma && isBlank(taken.outcome.luma, format)) {
          taken = await shooter.pastBlank(shot, taken.outcome, out);
          ctx.log(`screenshots: #${shot.index} at ${shot.time.toFixed(3)} s is blank; ${taken.movedFromBlank ? `took ${taken.outcome.actualTime?.toFixed(3) ?? 'a later frame'} s instead` : `no better frame within ${BLANK_TRIES} tries, kept it`}`);
        }
        const name = artifactName(shot.index, format);
        const image = await imageFileSize(out);
        if (!image?.width || !image.height) throw new VidfleetError('FFMPEG_FAILED', `ffmpeg wrote ${name} but it cannot be read back as an image.`);
        await ctx.emitArtifact({ name, path: out, contentType: STILL_FORMATS[format].contentType });
        const entry: Screenshot = { index: shot.index, time: shot.time, actualTime: taken.outcome.actualTime, artifact: name, width: image.width, height: image.height };
        if (taken.movedFromBlank) entry.movedFromBlank = true;
        if (taken.blank) entry.blank = true;
        done.set(shot.index, entry);
        made++;
        const checkpoint: ScreenshotsCheckpoint = { version: 1, mode, format, done: [...done.values()] };
        ctx.saveResumeData(checkpoint);
        ctx.onProgress({ progress: 0.05 + (0.95 * done.size) / plan.length, message: `screenshot ${done.size}/${plan.length}` });
      }
    }
    const screenshots = plan.map((p) => done.get(p.index)).filter((s): s is Screenshot => s !== undefined);
    ctx.onProgress({ progress: 1, message: 'done' });
    const moved = screenshots.filter((s) => s.movedFromBlank).map((s) => s.index);
    return { mode, format, duration, screenshots, made, reused: plan.length - made, moved };
  },
};
