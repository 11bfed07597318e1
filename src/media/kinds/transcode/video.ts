// transcode.video: one chunk of one rendition. Reads its frame range straight from the source
// (accurate seek, exact frame count), encodes it with a closed GOP, checks the result, uploads it.
import { join } from 'node:path';
import type { VideoTaskParams } from '../../../protocol/index.js';
import { encodeVideoChunk } from '../../transcode/encode-chunk.js';
import type { KindRunner, TaskContext } from '../kind.js';

export const transcodeVideoRunner: KindRunner = {
  name: 'transcode.video',
  async run(ctx: TaskContext): Promise<unknown> {
    const p = ctx.params as unknown as VideoTaskParams;
    const out = join(ctx.workDir, 'chunk.mp4');
    const report = await encodeVideoChunk({
      input: ctx.input,
      facts: p.source,
      chunk: p.chunk,
      rendition: p.rendition,
      ...(p.segmentSeconds !== null && { segmentSeconds: p.segmentSeconds }),
      out,
      signal: ctx.signal,
      onProgress: (progress, fps, speed) => ctx.onProgress({ progress: progress * 0.95, ...(fps !== undefined && { fps }), ...(speed !== undefined && { speed }) }),
      onLog: ctx.toolLog,
    });
    await ctx.emitArtifact({ name: p.artifact, path: out, contentType: 'video/mp4' });
    return report;
  },
};
