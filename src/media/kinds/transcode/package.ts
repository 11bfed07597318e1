// transcode.package: the last task of a transcode. Packages the merged renditions as HLS (master
// playlist + one media playlist per rendition) and/or DASH by remuxing — keyframes already sit on
// every segment boundary, so nothing is re-encoded — verifies the package, uploads it, and
// gathers the merge reports into the job's result.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackageTaskParams, TranscodeResult } from '../../../protocol/index.js';
import { contentTypeFor } from '../../content-types.js';
import { packageDash, packageHls, verifyDash, verifyHls } from '../../transcode/package.js';
import type { KindRunner, TaskContext } from '../kind.js';
import { fetchAll } from './fetch-all.js';

interface MergeSummary {
  rendition: { name: string; width: number; height: number; codec: string };
  artifact: string;
  frames: number;
  duration: number;
  bitRate?: number | null;
}

export const transcodePackageRunner: KindRunner = {
  name: 'transcode.package',
  async run(ctx: TaskContext): Promise<TranscodeResult> {
    const p = ctx.params as unknown as PackageTaskParams;
    const packaging = p.hls || p.dash;
    const names = [...p.renditions.map((r) => r.report), ...(packaging ? p.renditions.map((r) => r.merged) : [])];
    const local = await fetchAll(ctx, names, (done) => ctx.onProgress({ progress: 0.4 * (done / names.length) }));
    const reports = await Promise.all(p.renditions.map(async (r) => JSON.parse(await readFile(local.get(r.report) as string, 'utf8')) as MergeSummary));
    const inputs = p.renditions.map((r) => ({ name: r.rendition.name, path: local.get(r.merged) as string, width: r.rendition.width, height: r.rendition.height }));
    const expected = reports.map((r) => ({ name: r.rendition.name, frames: r.frames, durationSeconds: r.duration }));
    const outDir = join(ctx.workDir, 'out');
    const files: string[] = [];
    if (p.hls) {
      const hls = await packageHls({ renditions: inputs, segmentSeconds: p.segmentSeconds, outDir, signal: ctx.signal, onLog: ctx.toolLog });
      await verifyHls(join(outDir, 'hls', 'master.m3u8'), expected, { segmentSeconds: p.segmentSeconds, ...(p.source.maxFrameInterval !== undefined && { maxFrameInterval: p.source.maxFrameInterval }), signal: ctx.signal });
      files.push(...hls.files);
      ctx.log(`hls: ${hls.files.length} files verified`);
    }
    if (p.dash) {
      const dash = await packageDash({ renditions: inputs, segmentSeconds: p.segmentSeconds, outDir, signal: ctx.signal, onLog: ctx.toolLog });
      await verifyDash(join(outDir, 'dash', 'manifest.mpd'), expected, { segmentSeconds: p.segmentSeconds, ...(p.source.maxFrameInterval !== undefined && { maxFrameInterval: p.source.maxFrameInterval }), signal: ctx.signal });
      files.push(...dash.files);
      ctx.log(`dash: ${dash.files.length} files verified`);
    }
    ctx.onProgress({ progress: 0.6, message: `uploading ${files.length} files` });
    // Playlists last: a player that finds a playlist finds every segment it names.
    const ordered = [...files.filter((f) => !/\.(m3u8|mpd)$/.test(f)), ...files.filter((f) => /\.(m3u8|mpd)$/.test(f))];
    for (const [i, file] of ordered.entries()) {
      await ctx.emitArtifact({ name: file, path: join(outDir, file), contentType: contentTypeFor(file) });
      ctx.onProgress({ progress: 0.6 + 0.4 * ((i + 1) / ordered.length) });
    }
    return {
      renditions: reports.map((r, i) => ({
        name: r.rendition.name,
        width: r.rendition.width,
        height: r.rendition.height,
        codec: r.rendition.codec,
        frames: r.frames,
        duration: r.duration,
        mp4: p.renditions[i]?.published ? r.artifact : null,
        bitRate: r.bitRate ?? null,
      })),
      hls: p.hls ? 'hls/master.m3u8' : null,
      dash: p.dash ? 'dash/manifest.mpd' : null,
      chunks: p.chunks,
    };
  },
};
