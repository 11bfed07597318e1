// `sprite`: thumbnail sprite sheets and a WebVTT track that points at each thumbnail
// (`sprite-001.jpg#xywh=0,0,160,90`), for scrubbing previews in web players.
import { Type, type Static } from '@sinclair/typebox';
import { STILL_MAX_SIDE } from './contact-sheet.js';
import { StillFormatSchema, type ThumbnailFormat } from './thumbnail.js';

export const MAX_SPRITE_THUMBNAILS = 20_000;

export const SpriteParamsSchema = Type.Object(
  {
    interval: Type.Optional(
      Type.Number({ minimum: 0.5, maximum: 3600, description: 'Seconds of video each thumbnail stands for (default 10). Give interval or count, not both.' }),
    ),
    count: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_SPRITE_THUMBNAILS, description: 'Thumbnails over the whole video (the interval is then duration / count).' }),
    ),
    tileWidth: Type.Optional(Type.Integer({ minimum: 16, maximum: 1920, description: 'Width of each thumbnail in pixels (default 160); the height follows the display aspect.' })),
    columns: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Thumbnails across each sheet (default 10).' })),
    rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Thumbnails down each sheet (default 10); more thumbnails make more sheets.' })),
    format: Type.Optional(StillFormatSchema),
    quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Image quality, 1-100 (default 85).' })),
    mode: Type.Optional(
      Type.Union([Type.Literal('keyframe'), Type.Literal('exact')], {
        description: 'keyframe (default): the keyframe at or before each thumbnail\'s time (fast). exact: the frame shown at that time.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SpriteParams = Static<typeof SpriteParamsSchema>;

export interface SpriteSheet {
  artifact: string;
  width: number;
  height: number;
  /** Thumbnails on this sheet (the last sheet has only the rows it needs). */
  thumbnails: number;
}

export interface SpriteResult {
  sheets: SpriteSheet[];
  /** The WebVTT thumbnails track artifact. */
  vtt: string;
  /** Thumbnails (= cues). */
  count: number;
  /** Seconds between thumbnails (each cue's length; the last ends at the duration). */
  interval: number;
  tileWidth: number;
  tileHeight: number;
  columns: number;
  rows: number;
  duration: number;
  format: ThumbnailFormat;
  mode: 'keyframe' | 'exact';
  /** How the frames were read: one decoding pass per sheet, or a seek per thumbnail. */
  method: 'pass' | 'seek';
  /** Sheets made by this attempt, and stored by an earlier one. */
  made: number;
  reused: number;
}

export function spriteParamsProblem(params: Record<string, unknown>): string | null {
  const p = params as SpriteParams;
  if (p.interval !== undefined && p.count !== undefined) return 'give either "interval" (seconds) or "count" (thumbnails), not both';
  const format = p.format ?? 'jpeg';
  const width = (p.columns ?? 10) * (p.tileWidth ?? 160);
  if (width > STILL_MAX_SIDE[format]) {
    return `each sheet would be ${width} px wide, more than ${format} allows (${STILL_MAX_SIDE[format]}); use fewer "columns" or a smaller "tileWidth"`;
  }
  return null;
}
