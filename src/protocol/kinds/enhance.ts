// `enhance`: picture fixes (levels, sharpening, denoising, deinterlacing, scaling) and a
// re-encode to an MP4 that plays everywhere, audio copied when the MP4 can carry it.
import { Type, type Static } from '@sinclair/typebox';

export const ENHANCE_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;
export type EnhancePreset = (typeof ENHANCE_PRESETS)[number];
export type EnhanceVideoCodec = 'h264' | 'hevc' | 'vp9';

const literals = <T extends string>(values: readonly T[], description: string) => Type.Union(values.map((v) => Type.Literal(v)), { description });

export const EnhanceParamsSchema = Type.Object(
  {
    brightness: Type.Optional(Type.Number({ minimum: -1, maximum: 1, description: 'Added to luma, -1..1 (default 0).' })),
    contrast: Type.Optional(Type.Number({ minimum: 0, maximum: 3, description: 'Contrast factor, 0..3 (default 1).' })),
    saturation: Type.Optional(Type.Number({ minimum: 0, maximum: 3, description: 'Saturation factor, 0..3 (default 1; 0 is grey).' })),
    gamma: Type.Optional(Type.Number({ minimum: 0.1, maximum: 10, description: 'Gamma, 0.1..10 (default 1).' })),
    sharpen: Type.Optional(Type.Number({ minimum: 0, maximum: 3, description: 'Unsharp-mask amount on luma, 0..3 (default 0: none; 1 is strong).' })),
    denoise: Type.Optional(literals(['hqdn3d', 'nlmeans'] as const, 'Denoiser: hqdn3d (fast) or nlmeans (better, ~1.5 CPU-s per 1080p frame); default none.')),
    denoiseStrength: Type.Optional(Type.Number({ minimum: 0.1, maximum: 10, description: 'Denoise strength, 1 = moderate (default).' })),
    deinterlace: Type.Optional(literals(['auto', 'on', 'off'] as const, 'auto (default): only when the probe says interlaced; on: always; off: never.')),
    width: Type.Optional(Type.Integer({ minimum: 16, maximum: 7680, multipleOf: 2, description: 'Output width (even); height follows the display aspect when omitted.' })),
    height: Type.Optional(Type.Integer({ minimum: 16, maximum: 4320, multipleOf: 2, description: 'Output height (even); with width, the picture fits inside the box.' })),
    videoCodec: Type.Optional(literals(['h264', 'hevc', 'vp9'] as const, 'h264 (default, libx264), hevc (libx265) or vp9 (libvpx-vp9).')),
    crf: Type.Optional(Type.Integer({ minimum: 0, maximum: 63, description: 'Quality, lower is better: default 23 (h264), 28 (hevc), 32 (vp9); h264/hevc take 0-51.' })),
    preset: Type.Optional(literals(ENHANCE_PRESETS, 'Speed/size trade-off (default medium).')),
    audio: Type.Optional(literals(['auto', 'aac', 'none'] as const, 'auto (default): copy when MP4 can carry it, else AAC; aac: always re-encode; none: drop audio.')),
    audioBitrate: Type.Optional(Type.Integer({ minimum: 32, maximum: 512, description: 'AAC bit rate in kbit/s when re-encoding (default 64 per channel, at most 384).' })),
    subtitles: Type.Optional(literals(['drop', 'convert'] as const, 'drop (default), or convert text subtitles to MP4 timed text (bitmap ones are dropped).')),
  },
  { additionalProperties: false },
);
export type EnhanceParams = Static<typeof EnhanceParamsSchema>;

export interface EnhanceAudioResult {
  codec: string | null;
  sourceCodec: string | null;
  channels: number | null;
  sampleRate: number | null;
  /** True when the source packets were copied untouched. */
  copied: boolean;
}

export interface EnhanceResult {
  artifact: string;
  size: number | null;
  duration: number | null;
  bitRate: number | null;
  video: { codec: string | null; width: number; height: number; pixelFormat: string | null; frameRate: number | null };
  audio: EnhanceAudioResult[];
  subtitles: { converted: number; dropped: number };
  /** The -vf chain applied after ffmpeg's own rotation. */
  filters: string;
  deinterlaced: boolean;
  /** HDR source turned into SDR BT.709 (8-bit H.264 cannot carry HDR). */
  tonemapped: boolean;
  /** Average encoding speed, frames per second. */
  encodeFps: number | null;
}

export function enhanceParamsProblem(params: Record<string, unknown>): string | null {
  const p = params as EnhanceParams;
  const codec = p.videoCodec ?? 'h264';
  if (p.crf !== undefined && p.crf > 51 && codec !== 'vp9') return `"crf" ${p.crf} is out of range for ${codec} (0-51; only vp9 goes to 63)`;
  if (p.denoiseStrength !== undefined && p.denoise === undefined) return '"denoiseStrength" needs "denoise" (hqdn3d or nlmeans)';
  if (p.audioBitrate !== undefined && p.audio === 'none') return '"audioBitrate" makes no sense with "audio": "none"';
  return null;
}
