// `enhance`: probe, then one ffmpeg run that filters and re-encodes to enhanced.mp4 (see
// ../enhance-plan.ts for every choice), then a probe of the result, which becomes the job result.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VidfleetError, type EnhanceParams, type EnhanceResult } from '../../protocol/index.js';
import { hasEncoder, hasFilter } from '../capabilities.js';
import { ENCODERS, planEnhance } from '../enhance-plan.js';
import { classifyFailure, readInputHead } from '../errors.js';
import { probeFile } from '../probe.js';
import { ffmpegBinary, ffmpegInputArg, runProcess } from '../process.js';
import { createProgressParser } from '../progress.js';
import type { KindRunner, TaskContext } from './kind.js';

const ARTIFACT = 'enhanced.mp4';

export const enhanceRunner: KindRunner = {
  name: 'enhance',
  async run(ctx: TaskContext): Promise<EnhanceResult> {
    const params = ctx.params as EnhanceParams;
    const codec = params.videoCodec ?? 'h264';
    if (!(await hasEncoder(ENCODERS[codec]))) {
      throw new VidfleetError('FFMPEG_MISSING', `This worker's ffmpeg has no ${ENCODERS[codec]} encoder for ${codec}; run the job on a worker whose ffmpeg has it, or ask for videoCodec h264.`);
    }
    ctx.onProgress({ progress: 0, message: 'probing' });
    const probe = await probeFile(ctx.input, { signal: ctx.signal });
    const inputArg = ffmpegInputArg(ctx.input);
    const out = join(ctx.workDir, ARTIFACT);
    const canTonemap = await hasFilter('zscale');
    const plan = planEnhance(probe, params, { inputArg, output: out, canTonemap });
    const video = probe.streams[probe.primaryVideo!]!.video!;
    if ((video.hdr === 'hdr10' || video.hdr === 'hlg') && codec === 'h264' && !canTonemap) {
      ctx.log(`enhance: warning: ${ctx.input} is HDR (${video.hdr}) but this ffmpeg has no zscale filter to map it to SDR; the H.264 output keeps the HDR tags.`);
    }
    for (const a of plan.audio) ctx.log(`enhance: audio #${a.stream.index} (${a.stream.codec}) ${a.copy ? 'copied' : 're-encoded to AAC'}`);
    if (plan.subtitles.dropped) ctx.log(`enhance: ${plan.subtitles.dropped} subtitle stream(s) dropped${params.subtitles === 'convert' ? ' (bitmap subtitles cannot become MP4 text)' : ''}`);
    ctx.log(`ffmpeg ${plan.args.join(' ')}`);
    ctx.onProgress({ progress: 0.05, message: 'encoding' });

    const fpsSeen: number[] = [];
    const parser = createProgressParser(
      (s) => {
        if (s.fps !== null && s.fps > 0) fpsSeen.push(s.fps);
        ctx.onProgress({
          progress: 0.05 + 0.9 * (s.progress ?? 0),
          ...(s.fps !== null && { fps: s.fps }),
          ...(s.speed !== null && { speed: s.speed }),
          message: s.outTime === null ? 'encoding' : `encoded ${s.outTime.toFixed(1)} s`,
        });
      },
      { duration: probe.duration },
    );
    const res = await runProcess(ffmpegBinary(), plan.args, { signal: ctx.signal, onStdout: (t) => parser.push(t) });
    parser.end();
    if (res.exitCode !== 0) {
      const head = await readInputHead(inputArg);
      throw classifyFailure({ tool: 'ffmpeg', input: ctx.input, inputArg, stderr: res.stderr, exitCode: res.exitCode, action: 'could not enhance', head });
    }
    if (res.stderr.trim()) ctx.log(`enhance: ffmpeg reported: ${res.stderr.trim().split('\n').slice(-5).join(' | ')}`);

    const result = await probeFile(out, { signal: ctx.signal }).catch((err: unknown) => {
      throw new VidfleetError('FFMPEG_FAILED', `ffmpeg wrote ${ARTIFACT} but it cannot be read back: ${(err as Error).message}`);
    });
    await ctx.emitArtifact({ name: ARTIFACT, path: out, contentType: 'video/mp4' });
    ctx.onProgress({ progress: 1, message: 'done' });
    const v = result.streams[result.primaryVideo!]!;
    const outAudio = result.streams.filter((s) => s.type === 'audio');
    return {
      artifact: ARTIFACT,
      size: result.container.size ?? (await stat(out)).size,
      duration: result.duration,
      bitRate: result.bitRate,
      video: { codec: v.codec, width: v.video!.displayWidth, height: v.video!.displayHeight, pixelFormat: v.video!.pixelFormat, frameRate: v.video!.frameRate },
      audio: plan.audio.map((a, k) => ({
        codec: outAudio[k]?.codec ?? null,
        sourceCodec: a.stream.codec,
        channels: outAudio[k]?.audio?.channels ?? null,
        sampleRate: outAudio[k]?.audio?.sampleRate ?? null,
        copied: a.copy,
      })),
      subtitles: plan.subtitles,
      filters: plan.filters,
      deinterlaced: plan.deinterlace,
      tonemapped: plan.tonemap,
      encodeFps: fpsSeen.length ? Math.round(fpsSeen[fpsSeen.length - 1]! * 10) / 10 : null,
    };
  },
};
