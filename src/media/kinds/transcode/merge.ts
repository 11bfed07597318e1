// transcode.merge: one rendition's chunks joined (stream copy, each at its exact source offset)
// with the audio, then checked — frame count per chunk and in total, seams, DTS order, duration,
// A/V offset — before it is uploaded: a rendition that fails a check is never published.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MergeTaskParams } from '../../../protocol/index.js';
import { mergeRendition } from '../../transcode/merge.js';
import type { KindRunner, TaskContext } from '../kind.js';
import { fetchAll } from './fetch-all.js';

export const transcodeMergeRunner: KindRunner = {
  name: 'transcode.merge',
  async run(ctx: TaskContext): Promise<unknown> {
    const p = ctx.params as unknown as MergeTaskParams;
    const names = [...p.chunks.map((c) => c.artifact), ...(p.audioArtifact ? [p.audioArtifact] : [])];
    const local = await fetchAll(ctx, names, (done) => ctx.onProgress({ progress: 0.5 * (done / names.length), message: `fetched ${done}/${names.length}` }));
    const out = join(ctx.workDir, 'merged.mp4');
    const report = await mergeRendition({
      facts: p.source,
      chunks: p.chunks.map((c) => ({ plan: c.plan, path: local.get(c.artifact) as string })),
      audioPath: p.audioArtifact ? (local.get(p.audioArtifact) as string) : null,
      rendition: p.rendition.name,
      ...(p.segmentSeconds !== null && { segmentSeconds: p.segmentSeconds }),
      out,
      signal: ctx.signal,
      onLog: ctx.toolLog,
    });
    ctx.onProgress({ progress: 0.9, message: 'checked; uploading' });
    const { check } = report;
    const summary = {
      rendition: p.rendition,
      artifact: p.artifact,
      frames: check.frames,
      duration: check.videoDuration,
      bytes: report.bytes,
      bitRate: check.videoDuration > 0 ? Math.round((report.bytes * 8) / check.videoDuration) : null,
      mergeSeconds: report.mergeSeconds,
      check,
    };
    const reportPath = join(ctx.workDir, 'report.json');
    await writeFile(reportPath, JSON.stringify(summary, null, 2));
    await ctx.emitArtifact({ name: p.artifact, path: out, contentType: 'video/mp4' });
    await ctx.emitArtifact({ name: p.report, path: reportPath, contentType: 'application/json' });
    return summary;
  },
};
