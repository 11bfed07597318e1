// What every kind that takes several stills of one input shares (screenshots, contact sheets,
// sprites): the probe it starts from (the chain needs HDR/interlacing, the positions need the
// duration, measured from packet timestamps when the container does not say), and the fixes a
// batched grab cannot make by itself (Shooter): an exact seek that found no frame or overshot,
// and moving past black or flat frames.
import { rename, rm } from 'node:fs/promises';
import { VidfleetError, type ProbeReport, type ProbeStream, type ProbeVideo } from '../../protocol/index.js';
import { measureVideoDuration, unknownLengthError } from '../duration.js';
import { stderrShowsCorruption } from '../errors.js';
import { grabStills, type GrabRequest, type SeekMode, type ShotOutcome } from '../grab.js';
import { probeFile } from '../probe.js';
import { ffmpegInputArg } from '../process.js';
import { isBlank, STILL_FORMATS, type StillFormat } from '../stills.js';
import type { TaskContext } from './kind.js';
import { BLANK_TRIES, type PlannedShot } from './screenshots-plan.js';
import { videoDuration } from './thumbnail.js';

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface ShotSource {
  probe: ProbeReport;
  /** The main video stream. */
  stream: ProbeStream;
  video: ProbeVideo;
  /** Seconds of video: declared, or measured from packet timestamps. */
  duration: number;
}

/** Probes the input and finds how long its video is; `label` starts the task-log lines ("screenshots"). */
export async function probeShotSource(ctx: TaskContext, label: string): Promise<ShotSource> {
  const probe = await probeFile(ctx.input, { signal: ctx.signal });
  const stream = probe.streams[probe.primaryVideo ?? 0];
  const video = stream?.video;
  if (!stream || !video) throw new VidfleetError('NOT_A_VIDEO', `${ctx.input} has no usable video stream.`);
  let duration = videoDuration(probe);
  if (duration === null) {
    ctx.log(`${label}: ${ctx.input} declares no duration; reading its packet timestamps to measure it`);
    duration = await measureVideoDuration(ctx.input, stream.index, { signal: ctx.signal });
    if (duration === null) throw unknownLengthError(ctx.input);
    ctx.log(`${label}: measured ${duration.toFixed(3)} s of video`);
  }
  return { probe, stream, video, duration };
}

export interface Taken {
  outcome: ShotOutcome;
  movedFromBlank?: true;
  blank?: true;
}

export class Shooter {
  constructor(
    private readonly ctx: TaskContext,
    private readonly req: GrabRequest,
    private readonly mode: 'keyframe' | 'exact',
    private readonly format: StillFormat,
    private readonly duration: number,
    /** Seconds after the time beyond which an exact frame counts as late: two frames. */
    private readonly lateBy: number,
    /** Starts this kind's task-log lines ("screenshots"). */
    private readonly label: string,
  ) {}

  /**
   * Takes a batch in one ffmpeg process, then fixes each image that needs it (see recover,
   * settle, pastBlank) and hands it to `each` in order, before fixing the next.
   */
  async take(batch: readonly PlannedShot[], outs: readonly string[], skipBlank: boolean, each: (shot: PlannedShot, taken: Taken, out: string) => Promise<void>): Promise<void> {
    const grab = await grabStills(this.req, batch.map((p, i) => ({ time: p.seekTime, seek: this.mode, out: outs[i] ?? '' })));
    if (grab.problems.trim()) this.ctx.log(`${this.label}: ffmpeg reported: ${grab.problems.trim().split('\n').slice(-5).join(' | ')}`);
    for (const [i, shot] of batch.entries()) {
      const out = outs[i] ?? '';
      const first = grab.shots[i];
      let taken: Taken = { outcome: first?.wrote ? await this.settle(shot, first, out) : await this.recover(shot, out, grab.problems) };
      if (skipBlank && taken.outcome.luma && isBlank(taken.outcome.luma, this.format)) {
        taken = await this.pastBlank(shot, taken.outcome, out);
        this.ctx.log(`${this.label}: #${shot.index} at ${shot.time.toFixed(3)} s is blank; ${taken.movedFromBlank ? `took ${taken.outcome.actualTime?.toFixed(3) ?? 'a later frame'} s instead` : `no better frame within ${BLANK_TRIES} tries, kept it`}`);
      }
      await each(shot, taken, out);
    }
  }

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
        this.ctx.log(`${this.label}: warning: no frame at exactly ${at} s (a timestamp gap?); took the keyframe at or before it`);
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
      this.ctx.log(`${this.label}: #${shot.index}: seeking to ${shot.seekTime.toFixed(3)} s landed at ${first.actualTime.toFixed(3)} s; decoding from earlier gave ${got.actualTime.toFixed(3)} s`);
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
