// `screenshots`: N images, evenly spaced or at given times. It always probes (it needs the
// duration, and the chain needs to know HDR/interlacing), then takes the images in batches, one
// ffmpeg process per batch (see ../grab.ts for why and the numbers). Each image is uploaded as
// soon as its batch is done and named in the checkpoint, so a later attempt — after a crash, a
// lost lease or a network error — takes only the missing ones and still returns the full list.
import { join } from 'node:path';
import { VidfleetError, type Screenshot, type ScreenshotsParams, type ScreenshotsResult } from '../../protocol/index.js';
import { hasFilter } from '../capabilities.js';
import { requireStillEncoder, taskSide, type GrabRequest } from '../grab.js';
import { imageFileSize } from '../image-size.js';
import { STILL_FORMATS, stillChain, stillEncoderArgs, type StillFormat } from '../stills.js';
import type { KindRunner, TaskContext } from './kind.js';
import { artifactName, batchSize, planShots, reusableShots, type ScreenshotsCheckpoint } from './screenshots-plan.js';
import { chunks, probeShotSource, Shooter } from './still-shots.js';
import { usableFrameRate } from './thumbnail.js';

const DEFAULT_QUALITY = 85;
const FFMPEG_TIMEOUT_MS = 10 * 60_000;

export const screenshotsRunner: KindRunner = {
  name: 'screenshots',
  async run(ctx: TaskContext): Promise<ScreenshotsResult> {
    const params = ctx.params as ScreenshotsParams;
    const format: StillFormat = params.format ?? 'jpeg';
    const mode = params.mode ?? 'keyframe';
    await requireStillEncoder(format);
    ctx.onProgress({ progress: 0, message: 'starting' });

    const { stream: primary, video, duration } = await probeShotSource(ctx, 'screenshots');
    const plan = planShots(params, duration, video.frameRate, ctx.input);
    const done = reusableShots(ctx.resumeData, plan, mode, format);
    if (done.size) ctx.log(`screenshots: ${done.size} of ${plan.length} were stored by an earlier attempt; taking only the other ${plan.length - done.size}`);
    ctx.onProgress({ progress: 0.05 + (0.95 * done.size) / plan.length, message: 'probed' });

    const zscale = await hasFilter('zscale');
    const chainOptions = { width: params.width, height: params.height, format, zscale };
    for (const w of stillChain(video, { ...chainOptions, tag: 'x' }).warnings) ctx.log(`screenshots: warning: ${w}`);
    const req: GrabRequest = {
      ...taskSide(ctx),
      stream: String(primary.index),
      chain: (tag) => stillChain(video, { ...chainOptions, tag }),
      encoderArgs: stillEncoderArgs(format, params.quality ?? DEFAULT_QUALITY),
      action: 'could not take screenshots of',
      timeoutMs: FFMPEG_TIMEOUT_MS,
    };
    const shooter = new Shooter(ctx, req, mode, format, duration, 2 / (usableFrameRate(video.frameRate) ?? 25), 'screenshots');
    let made = 0;
    const todo = plan.filter((p) => !done.has(p.index));
    for (const batch of chunks(todo, batchSize(mode, video.width, video.height))) {
      const outs = batch.map((p) => join(ctx.workDir, artifactName(p.index, format)));
      await shooter.take(batch, outs, params.skipBlank ?? false, async (shot, taken, out) => {
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
      });
    }
    const screenshots = plan.map((p) => done.get(p.index)).filter((s): s is Screenshot => s !== undefined);
    ctx.onProgress({ progress: 1, message: 'done' });
    const moved = screenshots.filter((s) => s.movedFromBlank).map((s) => s.index);
    return { mode, format, duration, screenshots, made, reused: plan.length - made, moved };
  },
};
