// transcode.video: one chunk, into one rung or — decoded once — into every rung of the ladder.
// Reads its frame range straight from the source (accurate seek, exact frame count), encodes
// with closed GOPs, checks each output against the plan, and uploads them.
import { join } from 'node:path';
import type { VideoTaskParams } from '../../../protocol/index.js';
import { encodeVideoChunk } from '../../transcode/encode-chunk.js';
import { encodeChunkLadder } from '../../transcode/ladder-chunk.js';
import type { ChunkReport } from '../../transcode/types.js';
import type { KindRunner, TaskContext } from '../kind.js';

export const transcodeVideoRunner: KindRunner = {
  name: 'transcode.video',
  async run(ctx: TaskContext): Promise<unknown> {
    const p = ctx.params as unknown as VideoTaskParams;
    const outputs = p.outputs.map((o, i) => ({ rendition: o.rendition, out: join(ctx.workDir, `chunk-${i}.mp4`) }));
    const common = {
      input: ctx.input,
      facts: p.source,
      chunk: p.chunk,
      ...(p.segmentSeconds !== null && { segmentSeconds: p.segmentSeconds }),
      signal: ctx.signal,
      onProgress: (progress: number, fps?: number, speed?: number) => ctx.onProgress({ progress: progress * 0.95, ...(fps !== undefined && { fps }), ...(speed !== undefined && { speed }) }),
      onLog: ctx.toolLog,
    };
    const reports: ChunkReport[] =
      outputs.length === 1 ? [await encodeVideoChunk({ ...common, rendition: outputs[0]!.rendition, out: outputs[0]!.out })] : await encodeChunkLadder({ ...common, outputs });
    for (const [i, o] of p.outputs.entries()) await ctx.emitArtifact({ name: o.artifact, path: outputs[i]!.out, contentType: 'video/mp4' });
    // Worker paths mean nothing to anyone else.
    return reports.map(({ path: _path, ...rest }) => rest);
  },
};
