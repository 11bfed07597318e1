// `thumbnail`: one still image of a video.
import { Type, type Static } from '@sinclair/typebox';

export const THUMBNAIL_FORMATS = ['jpeg', 'webp', 'png'] as const;
export type ThumbnailFormat = (typeof THUMBNAIL_FORMATS)[number];

/** Image format of every still kind (thumbnail, screenshots, contact-sheet, sprite). */
export const StillFormatSchema = Type.Union([Type.Literal('jpeg'), Type.Literal('webp'), Type.Literal('png')], {
  description: 'jpeg (default), webp or png (lossless; quality does not apply)',
});

export const ThumbnailParamsSchema = Type.Object(
  {
    time: Type.Optional(
      Type.Number({ minimum: 0, description: 'Seconds from the start. Give either time or fraction; the default is fraction 0.1.' }),
    ),
    fraction: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'Position as a fraction of the duration (0 = first frame, 0.5 = middle).' }),
    ),
    width: Type.Optional(Type.Integer({ minimum: 16, maximum: 7680, description: 'Output width; height follows the display aspect when omitted.' })),
    height: Type.Optional(Type.Integer({ minimum: 16, maximum: 4320, description: 'Output height; width follows the display aspect when omitted.' })),
    format: Type.Optional(StillFormatSchema),
    quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Image quality, 1-100 (default 85).' })),
    mode: Type.Optional(
      Type.Union([Type.Literal('fixed'), Type.Literal('best')], {
        description:
          'fixed (default): the frame at the position. best: the most representative frame (ffmpeg thumbnail filter) of the ~2 s around it; skips black, blurred or transition frames, costs a probe and decoding the window.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ThumbnailParams = Static<typeof ThumbnailParamsSchema>;

export interface ThumbnailResult {
  /** Seconds into the video of the frame that was taken. */
  time: number;
  /** mode best: the position asked for (time is where the chosen frame is). */
  requestedTime?: number;
  width: number;
  height: number;
  format: ThumbnailFormat;
  artifact: string;
}

export function thumbnailParamsProblem(params: Record<string, unknown>): string | null {
  if (params.time !== undefined && params.fraction !== undefined) {
    return 'give either "time" (seconds) or "fraction" (0..1), not both';
  }
  return null;
}
