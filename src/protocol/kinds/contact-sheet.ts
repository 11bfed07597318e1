// `contact-sheet`: one image with a grid of frames from across the video (what vcsi makes),
// each tile with its time, under a band that describes the file.
import { Type, type Static } from '@sinclair/typebox';
import { StillFormatSchema, type ThumbnailFormat } from './thumbnail.js';

/** Largest image each encoder writes: JPEG stores 16-bit sizes, WebP 14-bit. */
export const STILL_MAX_SIDE = { jpeg: 65_535, webp: 16_383, png: 65_535 } as const;

export const HexColorSchema = Type.String({ pattern: '^#[0-9a-fA-F]{6}$', description: 'A colour as #RRGGBB.' });

export const ContactSheetParamsSchema = Type.Object(
  {
    columns: Type.Optional(Type.Integer({ minimum: 1, maximum: 12, description: 'Tiles across (default 4).' })),
    rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: 'Tiles down (default 4).' })),
    tileWidth: Type.Optional(Type.Integer({ minimum: 64, maximum: 1920, description: 'Width of each tile in pixels (default 320); the height follows the display aspect.' })),
    mode: Type.Optional(
      Type.Union([Type.Literal('keyframe'), Type.Literal('exact')], {
        description: 'keyframe (default): the keyframe at or before each time (fast; up to one GOP early). exact: the first frame at or after each time.',
      }),
    ),
    format: Type.Optional(StillFormatSchema),
    quality: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Image quality, 1-100 (default 85).' })),
    timestamps: Type.Optional(Type.Boolean({ description: 'Draw each tile\'s time (HH:MM:SS) in its lower right corner (default true).' })),
    header: Type.Optional(
      Type.Boolean({ description: 'A band on top with the file name, duration, size, display resolution, frame rate and codecs (default true).' }),
    ),
    skipBlank: Type.Optional(Type.Boolean({ description: 'Move past black or flat frames, as screenshots does (default false).' })),
    background: Type.Optional(HexColorSchema),
    margin: Type.Optional(Type.Integer({ minimum: 0, maximum: 200, description: 'Pixels around the grid (default 10).' })),
    padding: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'Pixels between tiles (default 4).' })),
  },
  { additionalProperties: false },
);
export type ContactSheetParams = Static<typeof ContactSheetParamsSchema>;

export interface ContactSheetTile {
  /** 1-based, row by row. */
  index: number;
  /** Seconds asked for: the middle of the tile's part of the video. */
  time: number;
  /** Seconds of the frame shown, when ffmpeg said (keyframe mode: the keyframe's time). */
  actualTime: number | null;
  movedFromBlank?: true;
  blank?: true;
}

export interface ContactSheetHeader {
  fileName: string;
  duration: number;
  /** Bytes, when known. */
  size: number | null;
  /** The size a player shows (aspect and rotation applied). */
  displayWidth: number;
  displayHeight: number;
  frameRate: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
  /** The lines drawn, top to bottom. */
  lines: string[];
  /** Pixels of the band. */
  height: number;
}

export interface ContactSheetResult {
  artifact: string;
  format: ThumbnailFormat;
  mode: 'keyframe' | 'exact';
  width: number;
  height: number;
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  duration: number;
  tiles: ContactSheetTile[];
  header: ContactSheetHeader | null;
  /** False when text was asked for but this worker has no font; the sheet then has none. */
  textRendered: boolean;
}

/** Pixels across a grid of `columns` tiles. */
export function gridWidth(columns: number, tileWidth: number, margin: number, padding: number): number {
  return 2 * margin + columns * tileWidth + (columns - 1) * padding;
}

export function contactSheetParamsProblem(params: Record<string, unknown>): string | null {
  const p = params as ContactSheetParams;
  const format = p.format ?? 'jpeg';
  const width = gridWidth(p.columns ?? 4, p.tileWidth ?? 320, p.margin ?? 10, p.padding ?? 4);
  if (width > STILL_MAX_SIDE[format]) {
    return `the sheet would be ${width} px wide, more than ${format} allows (${STILL_MAX_SIDE[format]}); use fewer "columns" or a smaller "tileWidth"`;
  }
  return null;
}

/** Contact sheets draw text with drawtext unless both kinds of text are turned off. */
export function contactSheetDrawsText(params: Record<string, unknown>): boolean {
  return params.timestamps !== false || params.header !== false;
}
