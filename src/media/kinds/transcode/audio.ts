// transcode.audio: the job's audio, encoded once for the whole duration and aligned to the first
// video frame, so chunk seams can never shift it; every rendition's merge muxes this one file.
import { join } from 'node:path';
import type { AudioTaskParams } from '../../../protocol/index.js';
import { encodeAudio } from '../../transcode/encode-audio.js';
import type { KindRunner, TaskContext } from '../kind.js';

export const transcodeAudioRunner: KindRunner = {
  name: 'transcode.audio',
  async run(ctx: TaskContext): Promise<unknown> {
    const p = ctx.params as unknown as AudioTaskParams;
    const out = join(ctx.workDir, 'audio.mp4');
    const report = await encodeAudio({
      input: ctx.input,
      facts: p.source,
      audio: p.audio,
      out,
      signal: ctx.signal,
      onProgress: (progress) => ctx.onProgress({ progress: progress * 0.95 }),
      onLog: ctx.toolLog,
    });
    await ctx.emitArtifact({ name: p.artifact, path: out, contentType: 'audio/mp4' });
    return report;
  },
};
