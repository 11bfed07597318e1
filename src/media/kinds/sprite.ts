// `sprite`: thumbnails every `interval` seconds laid out on sheets of columns × rows, and a
// WebVTT track whose cues point at them (`sprite-001.jpg#xywh=0,0,160,90`) for players'
// scrubbing previews. Cue k covers [k·interval, (k+1)·interval] (the last ends at the duration)
// and shows the frame at its middle (see thumbnailTime; keyframe mode: the keyframe at or
// before it). Each sheet is made by its own ffmpeg run, either one decoding pass over
// the sheet's span (fps picks a frame per cue, tile lays them out) or a seek per thumbnail and a
// layout step (see spriteMethod for the numbers behind the choice). A sheet is uploaded and
// named in the checkpoint when made, so a retry makes only the missing ones.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VidfleetError, STILL_MAX_SIDE, type ProbeVideo, type SpriteParams, type SpriteResult, type SpriteSheet } from '../../protocol/index.js';
import { hasFilter } from '../capabilities.js';
import { stderrShowsCorruption, tidyFfmpegLine } from '../errors.js';
import { grabStills, requireStillEncoder, taskSide, type GrabRequest } from '../grab.js';
import { imageFileSize } from '../image-size.js';
import { ffmpegInputArg } from '../process.js';
import { composeSheet, gridFilters, sheetSize, tileHeightFor, type GridLayout } from '../sheet-grid.js';
import { STILL_FORMATS, stillChain, stillEncoderArgs, type StillFormat } from '../stills.js';
import type { KindRunner, TaskContext } from './kind.js';
import type { PlannedShot } from './screenshots-plan.js';
import { batchSize } from './screenshots-plan.js';
import { checkpointKey, planSprite, thumbnailTime, reusableSheets, sheetName, spriteMethod, spriteVtt, type PlannedSheet, type SpriteCheckpoint, type SpritePlan } from './sprite-plan.js';
import { chunks, probeShotSource, Shooter } from './still-shots.js';
import { lastFrameTime, usableFrameRate } from './thumbnail.js';

const DEFAULT_QUALITY = 85;
const FFMPEG_TIMEOUT_MS = 60 * 60_000;
const VTT_NAME = 'sprite.vtt';

interface SheetJob {
  ctx: TaskContext;
  video: ProbeVideo;
  stream: string;
  plan: SpritePlan;
  mode: 'keyframe' | 'exact';
  format: StillFormat;
  quality: number;
  duration: number;
  zscale: boolean;
  layout: (sheet: PlannedSheet) => GridLayout;
}

function grabRequest(job: SheetJob, chain: GrabRequest['chain'], encoderArgs: string[]): GrabRequest {
  return { ...taskSide(job.ctx), stream: job.stream, chain, encoderArgs, action: 'could not make the sprite of', timeoutMs: FFMPEG_TIMEOUT_MS };
}

/**
 * One pass over the sheet's span: input seek to its first cue, then `fps` in the chain's thin
 * step turns the frames into one per cue. Timestamps are moved half an interval (less 1 ms)
 * later, so with round=down cue k's slot ends up with the last frame at or before its middle,
 * as a seek would; eof_action=pass lets the last, unfinished slot out.
 */
async function passSheet(job: SheetJob, sheet: PlannedSheet, out: string): Promise<void> {
  const startMs = job.plan.bounds[sheet.first] ?? 0;
  const intervalMs = Math.max(1, Math.round(job.plan.interval * 1000));
  const thin = [
    `setpts=max(PTS+${(intervalMs / 2 - 1) / 1000}/TB\\,0)`,
    `fps=fps=1000/${intervalMs}:start_time=0:round=down:eof_action=pass`,
    // Slots past the last frame decoded (keyframe mode: past the last keyframe) show that frame.
    `tpad=stop_mode=clone:stop=${sheet.count}`,
  ];
  const options = { width: job.layout(sheet).tileWidth, format: job.format, zscale: job.zscale, thin, pick: gridFilters(job.layout(sheet), sheet.count, '#000000') };
  const req = grabRequest(job, (tag) => stillChain(job.video, { ...options, tag }), stillEncoderArgs(job.format, job.quality));
  const grab = await grabStills(req, [{ time: startMs / 1000, seek: job.mode, out }]);
  // The file ends before the data its index lists: the slots after it would all repeat the last frame.
  const cut = /^.*partial file.*$/m.exec(grab.problems)?.[0];
  if (cut) throw new VidfleetError('INPUT_CORRUPT', `${job.ctx.input} is cut short: its index lists video the file does not hold (ffmpeg: "${tidyFfmpegLine(cut)}"). Re-export or re-download it.`);
  if (grab.shots[0]?.wrote) return;
  const line = stderrShowsCorruption(grab.problems, ffmpegInputArg(job.ctx.input));
  throw new VidfleetError(
    'INPUT_CORRUPT',
    `ffmpeg decoded no video frame between ${(startMs / 1000).toFixed(3)} s and ${((job.plan.bounds[sheet.first + sheet.count] ?? 0) / 1000).toFixed(3)} s of ${job.ctx.input}, although its video is ${job.duration.toFixed(3)} s long: the file is damaged or truncated${line ? ` (ffmpeg: "${line}")` : ''}. Re-export or re-download it.`,
  );
}

/** A seek per thumbnail (batched, as screenshots), then one run lays them out. */
async function seekSheet(job: SheetJob, sheet: PlannedSheet, out: string): Promise<void> {
  const { ctx, video, plan } = job;
  const thumbs: PlannedShot[] = Array.from({ length: sheet.count }, (_, i) => {
    const k = sheet.first + i;
    const time = thumbnailTime(plan, k);
    return { index: k + 1, time, seekTime: lastFrameTime(time, job.duration, video.frameRate), blankStep: 0 };
  });
  const options = { width: job.layout(sheet).tileWidth, format: 'png' as const, zscale: job.zscale };
  const req = grabRequest(job, (tag) => stillChain(video, { ...options, tag }), stillEncoderArgs('png', 100));
  const shooter = new Shooter(ctx, req, job.mode, 'png', job.duration, 2 / (usableFrameRate(video.frameRate) ?? 25), 'sprite');
  const thumbPath = (index: number): string => join(ctx.workDir, `thumb-${String(index).padStart(5, '0')}.png`);
  for (const batch of chunks(thumbs, batchSize(job.mode, video.width, video.height))) {
    await shooter.take(batch, batch.map((t) => thumbPath(t.index)), false, async () => {});
  }
  await composeSheet({
    tiles: join(ctx.workDir, 'thumb-%05d.png'), first: sheet.first + 1, count: sheet.count, layout: job.layout(sheet), background: '#000000', texts: [], font: null,
    format: job.format, quality: job.quality, out, signal: ctx.signal, log: ctx.log, toolLog: ctx.toolLog, timeoutMs: FFMPEG_TIMEOUT_MS,
  });
}

export const spriteRunner: KindRunner = {
  name: 'sprite',
  async run(ctx: TaskContext): Promise<SpriteResult> {
    const params = ctx.params as SpriteParams;
    const format: StillFormat = params.format ?? 'jpeg';
    const mode = params.mode ?? 'keyframe';
    const columns = params.columns ?? 10;
    const rows = params.rows ?? 10;
    const tileWidth = params.tileWidth ?? 160;
    await requireStillEncoder(format);
    ctx.onProgress({ progress: 0, message: 'starting' });

    const { stream, video, duration } = await probeShotSource(ctx, 'sprite');
    const plan = planSprite(params, duration, ctx.input);
    const method = spriteMethod(mode, plan.interval);
    const count = plan.bounds.length - 1;
    const tileHeight = tileHeightFor(video, tileWidth);
    if (rows * tileHeight > STILL_MAX_SIDE[format]) {
      throw new VidfleetError('INVALID_PARAMS', `Each sheet would be ${rows * tileHeight} px high (thumbnails of this video are ${tileHeight} px high at ${tileWidth} px wide), more than ${format} allows (${STILL_MAX_SIDE[format]}); use fewer rows.`);
    }
    const key = checkpointKey(params, plan, mode, format, tileWidth);
    const reuse = reusableSheets(ctx.resumeData, key, plan, format);
    const done = reuse.tileHeight === tileHeight ? reuse.done : new Map<number, SpriteSheet>();
    if (done.size) ctx.log(`sprite: ${done.size} of ${plan.sheets.length} sheets were stored by an earlier attempt; making only the other ${plan.sheets.length - done.size}`);
    ctx.log(`sprite: ${count} thumbnails every ${plan.interval.toFixed(3)} s on ${plan.sheets.length} sheet(s), ${method === 'pass' ? 'one decoding pass per sheet' : 'a seek per thumbnail'} (${mode} mode)`);
    ctx.onProgress({ progress: 0.05 + (0.9 * done.size) / plan.sheets.length, message: 'probed' });

    const zscale = await hasFilter('zscale');
    for (const w of stillChain(video, { width: tileWidth, format, zscale, tag: 'x' }).warnings) ctx.log(`sprite: warning: ${w}`);
    const job: SheetJob = {
      ctx, video, stream: String(stream.index), plan, mode, format, quality: params.quality ?? DEFAULT_QUALITY, duration, zscale,
      layout: (sheet) => ({ columns, rows: sheet.rows, tileWidth, tileHeight, margin: 0, padding: 0, top: 0 }),
    };
    let made = 0;
    for (const sheet of plan.sheets.filter((s) => !done.has(s.index))) {
      const name = sheetName(sheet.index, format);
      const out = join(ctx.workDir, name);
      await (method === 'pass' ? passSheet(job, sheet, out) : seekSheet(job, sheet, out));
      const want = sheetSize(job.layout(sheet));
      const image = await imageFileSize(out);
      if (image?.width !== want.width || image.height !== want.height) {
        throw new VidfleetError('FFMPEG_FAILED', `ffmpeg wrote ${name} at ${image ? `${image.width}x${image.height}` : 'an unreadable size'}, not the ${want.width}x${want.height} its cues point into.`);
      }
      await ctx.emitArtifact({ name, path: out, contentType: STILL_FORMATS[format].contentType });
      done.set(sheet.index, { artifact: name, width: image.width, height: image.height, thumbnails: sheet.count });
      made++;
      const checkpoint: SpriteCheckpoint = { version: 1, key, tileHeight, done: [...done.values()] };
      ctx.saveResumeData(checkpoint);
      ctx.onProgress({ progress: 0.05 + (0.9 * done.size) / plan.sheets.length, message: `sheet ${done.size}/${plan.sheets.length}` });
    }

    const vtt = join(ctx.workDir, VTT_NAME);
    await writeFile(vtt, spriteVtt(plan, format, columns, rows, tileWidth, tileHeight));
    await ctx.emitArtifact({ name: VTT_NAME, path: vtt, contentType: 'text/vtt' });
    ctx.onProgress({ progress: 1, message: 'done' });
    const sheets = plan.sheets.map((s) => done.get(s.index)).filter((s): s is SpriteSheet => s !== undefined);
    return { sheets, vtt: VTT_NAME, count, interval: plan.interval, tileWidth, tileHeight, columns, rows, duration, format, mode, method, made, reused: plan.sheets.length - made };
  },
};
