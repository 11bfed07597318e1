// `transcode`: a rendition ladder from one source, encoded in GOP-aligned chunks by many workers
// at once, merged per rendition, packaged as HLS and/or DASH. One job becomes a graph of tasks:
//   plan → (chunk × rendition) video encodes + one audio encode per rendition → merge per
//   rendition → package
// The plan task is the only one submitted; the coordinator adds the rest when the plan (keyframes,
// frame counts, rendition sizes) comes back (src/coordinator/planner/transcode.ts).
import { Type, type Static } from '@sinclair/typebox';
import { ENHANCE_PRESETS } from './enhance.js';

const literals = <T extends string>(values: readonly T[], description: string) => Type.Union(values.map((v) => Type.Literal(v)), { description });

export const TRANSCODE_CODECS = ['h264', 'hevc', 'av1'] as const;

/** The encoder each codec runs (a worker must have it to take that rendition's chunks). */
export const TRANSCODE_ENCODERS = { h264: 'libx264', hevc: 'libx265', av1: 'libsvtav1' } as const;

export const RenditionSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$', description: 'Unique in the ladder; names its outputs (720p → 720p.mp4, hls/720p/…).' }),
    width: Type.Optional(Type.Integer({ minimum: 16, maximum: 7680, description: 'Output width; the height follows the display aspect when omitted. Never upscaled.' })),
    height: Type.Optional(Type.Integer({ minimum: 16, maximum: 4320, description: 'Output height; the width follows the display aspect when omitted. Never upscaled.' })),
    codec: Type.Optional(literals(TRANSCODE_CODECS, 'h264 (default, libx264), hevc (libx265) or av1 (libsvtav1).')),
    crf: Type.Optional(Type.Integer({ minimum: 0, maximum: 63, description: 'Constant quality (default 23 h264, 28 hevc, 35 av1) unless bitrateKbps is given.' })),
    bitrateKbps: Type.Optional(Type.Integer({ minimum: 50, maximum: 200_000, description: 'Target video bit rate; use with maxrateKbps/bufsizeKbps for streaming.' })),
    maxrateKbps: Type.Optional(Type.Integer({ minimum: 50, maximum: 400_000, description: 'Peak bit rate cap (VBV); needs bufsizeKbps.' })),
    bufsizeKbps: Type.Optional(Type.Integer({ minimum: 50, maximum: 800_000, description: 'VBV buffer size.' })),
    preset: Type.Optional(
      Type.String({
        pattern: `^(?:${ENHANCE_PRESETS.join('|')}|[0-9]|1[0-3])$`,
        description: 'Encoder speed/size trade-off: h264/hevc ultrafast…veryslow (default veryfast); av1 (libsvtav1) 0-13, higher is faster (default 8).',
      }),
    ),
    profile: Type.Optional(Type.String({ pattern: '^[a-z0-9]{1,16}$', description: 'h264: baseline/main/high; hevc: main/main10.' })),
    level: Type.Optional(Type.String({ pattern: '^[0-9](\\.[0-9])?$', description: 'Codec level, e.g. 4.0 or 3.1.' })),
  },
  { additionalProperties: false },
);

export const TranscodeParamsSchema = Type.Object(
  {
    renditions: Type.Optional(
      Type.Array(RenditionSchema, { minItems: 1, maxItems: 10, description: 'The ladder (default 1080p/720p/480p H.264, rungs above the source dropped).' }),
    ),
    audio: Type.Optional(
      Type.Union([
        Type.Object(
          {
            codec: Type.Optional(literals(['aac', 'opus'] as const, 'aac (default) or opus.')),
            bitrateKbps: Type.Optional(Type.Integer({ minimum: 16, maximum: 512, description: 'Default 128.' })),
            channels: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, description: 'Default 2 (or fewer if the source has fewer).' })),
          },
          { additionalProperties: false },
        ),
        Type.Literal(false),
      ], { description: 'Audio of every rendition, encoded once per rendition for the whole file; false drops it.' }),
    ),
    mp4: Type.Optional(Type.Boolean({ description: 'Publish one MP4 per rendition (default true).' })),
    hls: Type.Optional(Type.Boolean({ description: 'Package as HLS with a master playlist (default true).' })),
    dash: Type.Optional(Type.Boolean({ description: 'Package as DASH (default false).' })),
    segmentSeconds: Type.Optional(Type.Number({ minimum: 1, maximum: 30, description: 'HLS/DASH segment length; keyframes are forced on it (default 4).' })),
    chunkSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600, description: 'Target chunk length for parallel encoding (default 20; 0 turns chunking off). Chunks start on source keyframes.' })),
    chunkTasks: Type.Optional(
      literals(['ladder', 'rendition'] as const, 'ladder (default): one task per chunk decodes it once and encodes every rung; rendition: one task per chunk × rung (more parallel tasks, one decode of the chunk per rung).'),
    ),
    minChunkSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600, description: 'No chunk shorter than this (default 5, or chunkSeconds if smaller).' })),
  },
  { additionalProperties: false },
);
export type TranscodeParams = Static<typeof TranscodeParamsSchema>;

/** The ladder used when a job names none. */
export const DEFAULT_LADDER = [
  { name: '1080p', height: 1080, codec: 'h264', crf: 23 },
  { name: '720p', height: 720, codec: 'h264', crf: 23 },
  { name: '480p', height: 480, codec: 'h264', crf: 24 },
] as const;

/** The tasks of a transcode graph; workers register them to run transcode jobs. */
export const TRANSCODE_TASK_KINDS = ['transcode.plan', 'transcode.video', 'transcode.audio', 'transcode.merge', 'transcode.package'] as const;
export type TranscodeTaskKind = (typeof TRANSCODE_TASK_KINDS)[number];

export function transcodeParamsProblem(params: Record<string, unknown>): string | null {
  const p = params as TranscodeParams;
  const names = new Set<string>();
  for (const r of p.renditions ?? []) {
    if (names.has(r.name)) return `Two renditions are named "${r.name}"; names must be unique.`;
    names.add(r.name);
    if (r.crf !== undefined && r.bitrateKbps !== undefined) return `Rendition "${r.name}" gives both crf and bitrateKbps; pick one.`;
    if ((r.maxrateKbps === undefined) !== (r.bufsizeKbps === undefined)) return `Rendition "${r.name}": maxrateKbps and bufsizeKbps go together.`;
    if ((r.codec ?? 'h264') !== 'av1' && r.crf !== undefined && r.crf > 51) return `Rendition "${r.name}": crf for ${r.codec ?? 'h264'} is 0-51.`;
    // libsvtav1 in ffmpeg 5.1 takes no VBV cap: the rung would be refused by every worker.
    if (r.preset !== undefined && (r.codec === 'av1') !== /^\d+$/.test(r.preset)) {
      return `Rendition "${r.name}": preset "${r.preset}" is not a ${r.codec ?? 'h264'} preset (${r.codec === 'av1' ? '0-13' : ENHANCE_PRESETS.join(', ')}).`;
    }
    if (r.codec === 'av1' && r.maxrateKbps !== undefined) return `Rendition "${r.name}": av1 (libsvtav1) takes no maxrateKbps/bufsizeKbps; use crf or bitrateKbps.`;
  }
  if (p.mp4 === false && p.hls === false && p.dash !== true) return 'The job would publish nothing: keep mp4, hls or dash on.';
  return null;
}

/** What the job's result says: where each output is, and what the checks measured. */
export interface TranscodeResult {
  renditions: { name: string; width: number; height: number; codec: string; frames: number; duration: number; mp4: string | null; bitRate: number | null }[];
  hls: string | null;
  dash: string | null;
  chunks: number;
}
