// transcode.plan: reads the source once (stream facts and every frame's timestamp and keyframe
// flag, from packet headers: no decoding) and answers the plan the coordinator builds the graph
// from — keyframe-aligned chunks with exact frame counts, and the ladder's output sizes.
import { DEFAULT_LADDER, type RenditionSpec, type TranscodeParams, type TranscodePlan } from '../../../protocol/index.js';
import { analyzeSource } from '../../transcode/analyze.js';
import { planChunks, resolveRenditions } from '../../transcode/chunks.js';
import type { KindRunner, TaskContext } from '../kind.js';

const DEFAULT_CHUNK_SECONDS = 20;
const DEFAULT_MIN_CHUNK_SECONDS = 5;

/**
 * The default ladder keeps only the rungs the source can fill (a 720p source gets 720p and 480p),
 * and the smallest one, scaled down to the source, when it can fill none. A ladder the job names
 * is kept as asked (each rung capped at the source size).
 */
export function ladderFor(params: TranscodeParams, display: { width: number; height: number }): RenditionSpec[] {
  if (params.renditions) return params.renditions.map((r) => ({ ...r, codec: r.codec ?? 'h264' }));
  const short = Math.min(display.width, display.height);
  const fits = DEFAULT_LADDER.filter((r) => r.height <= short);
  const rungs = fits.length > 0 ? fits : [DEFAULT_LADDER[DEFAULT_LADDER.length - 1]!];
  // Portrait sources: the rung's number names the short side, as players label them.
  const portrait = display.height > display.width;
  return rungs.map((r) => (portrait ? { name: r.name, width: r.height, codec: r.codec, crf: r.crf } : { ...r }));
}

export const transcodePlanRunner: KindRunner = {
  name: 'transcode.plan',
  needsWorkDir: () => false,
  async run(ctx: TaskContext): Promise<TranscodePlan> {
    const params = ctx.params as TranscodeParams;
    ctx.onProgress({ progress: 0.05, message: 'reading the source' });
    const { facts, frames } = await analyzeSource(ctx.input, { signal: ctx.signal, onLog: ctx.toolLog });
    const target = params.chunkSeconds ?? DEFAULT_CHUNK_SECONDS;
    const chunks = planChunks(frames, { targetSeconds: target, minSeconds: Math.min(params.minChunkSeconds ?? DEFAULT_MIN_CHUNK_SECONDS, target > 0 ? target : Infinity) });
    const renditions = resolveRenditions(facts, ladderFor(params, { width: facts.displayWidth, height: facts.displayHeight }));
    const audio = facts.audio ? `audio stream #${facts.audio.index} (${facts.audio.codec}, ${facts.audio.channels} ch)${facts.audio.count > 1 ? ` of ${facts.audio.count}: the default-flagged one, else the first` : ''}` : 'no audio';
    ctx.log(
      `plan: ${facts.frames} frames over ${facts.duration.toFixed(3)} s (${facts.vfr ? 'variable' : 'constant'} frame rate, ${facts.interlaced ? 'interlaced' : 'progressive'}), ` +
        `${chunks.length} chunk(s), renditions ${renditions.map((r) => `${r.name} ${r.width}x${r.height} ${r.codec}`).join(', ')}; ${audio}`,
    );
    return { source: facts, chunks, renditions };
  },
};
