// `screenshots`: several still images of a video, evenly spaced or at given times.
import { Type, type Static } from '@sinclair/typebox';
import { StillFormatSchema, type ThumbnailFormat } from './thumbnail.js';

export const MAX_SCREENSHOTS = 100;

export const ScreenshotsParamsSchema = Type.Object(
  {
    count: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_SCREENSHOTS, description: 'Images evenly spaced over the video (the middle of count equal parts); default 10. Give count or times, not both.' }),
    ),
    times: Type.Optional(
      Type.Array(Type.Number({ minimum: 0, maximum: 7 * 86_400 }), {
        minItems: 1,
        maxItems: MAX_SCREENSHOTS,
        description: 'Seconds from the start, one image each, in the order given. A time past the end of the video fails the job (TIME_OUT_OF_RANGE).',
      }),
    ),
    mode: Type.Optional(
      Type.Union([Type.Literal('keyframe'), Type.Literal('exact')], {
        description: 'keyframe (default): the keyframe at or before each time, decoded alone (fast; up to one GOP early). exact: the first frame at or after each time.',
      }),
    ),
    skipBlank: Type.Optional(
      Type.Boolean({ description: 'Move past black or flat frames: up to 3 tries, each a quarter of the spacing later (default false).' }),
    ),
    width: Type.Optional(Type.Integer({ minimum: 16, maximum: 7680, description: 'Output width; height follows the display aspect when omitted.' })),
    height: Type.Optional(Type.Integer({ minimum: 16, maximum: 4320, description: 'Output height; width follows the display aspect when omitted.' })),
    format: Type.Optional(StillFormatSchema),
    quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Image quality, 1-100 (default 85).' })),
  },
  { additionalProperties: false },
);
export type ScreenshotsParams = Static<typeof ScreenshotsParamsSchema>;

export interface Screenshot {
  /** 1-based, as in the artifact name. */
  index: number;
  /** Seconds asked for (the computed position for evenly spaced ones). */
  time: number;
  /** Seconds of the frame taken, when ffmpeg said (keyframe mode: the keyframe's time). */
  actualTime: number | null;
  artifact: string;
  width: number;
  height: number;
  /** skipBlank: the frame at `time` was blank and a later one was taken. */
  movedFromBlank?: true;
  /** skipBlank: every try was blank; the least flat one was kept. */
  blank?: true;
}

export interface ScreenshotsResult {
  mode: 'keyframe' | 'exact';
  format: ThumbnailFormat;
  /** Seconds of video the times were placed in. */
  duration: number;
  screenshots: Screenshot[];
  /** How many were made by this attempt, and how many an earlier attempt had stored already. */
  made: number;
  reused: number;
  /** Indexes moved past a blank frame. */
  moved: number[];
}

export function screenshotsParamsProblem(params: Record<string, unknown>): string | null {
  if (params.count !== undefined && params.times !== undefined) {
    return 'give either "count" (evenly spaced) or "times" (seconds), not both';
  }
  return null;
}
