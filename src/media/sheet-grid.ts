// Grids of frames (contact sheets, sprite sheets): where each tile goes, and one ffmpeg run that
// lays tile images out with `tile` and draws text on the result. Every tile is scaled (only when
// it is not already the size) and padded to exactly tileWidth × tileHeight first, so the sheet's
// size is known before anything runs and a stream that changes resolution cannot bend the grid.
import { basename } from 'node:path';
import { VidfleetError, type ProbeVideo } from '../protocol/index.js';
import { lastFfmpegLine } from './errors.js';
import { errorLines } from './ffmpeg-log.js';
import { ffmpegBinary, runProcess } from './process.js';
import { drawtextFilter, type TextSpec } from './drawtext.js';
import { stillEncoderArgs, stillPixelFormat, type StillFormat } from './stills.js';

export interface GridLayout {
  columns: number;
  rows: number;
  tileWidth: number;
  tileHeight: number;
  /** Pixels around the grid. */
  margin: number;
  /** Pixels between tiles. */
  padding: number;
  /** Pixels of a band above the grid (a header), 0 for none. */
  top: number;
}

export function sheetSize(l: GridLayout): { width: number; height: number } {
  return {
    width: 2 * l.margin + l.columns * l.tileWidth + (l.columns - 1) * l.padding,
    height: l.top + 2 * l.margin + l.rows * l.tileHeight + (l.rows - 1) * l.padding,
  };
}

/** Top-left corner of tile `i` (0-based, row by row). */
export function tileOrigin(l: GridLayout, i: number): { x: number; y: number } {
  const column = i % l.columns;
  const row = Math.floor(i / l.columns);
  return { x: l.margin + column * (l.tileWidth + l.padding), y: l.top + l.margin + row * (l.tileHeight + l.padding) };
}

/**
 * The height the still chain's scale gives a frame `tileWidth` wide: ffmpeg's
 * round(width / dar), with the sample aspect applied and the rotation turning the picture.
 */
export function tileHeightFor(video: Pick<ProbeVideo, 'width' | 'height' | 'sampleAspectRatio' | 'rotation'>, tileWidth: number): number {
  const [num, den] = video.sampleAspectRatio.split(':').map(Number);
  const sar = num && den ? num / den : 1;
  let dar = (video.width * sar) / video.height;
  if (video.rotation === 90 || video.rotation === 270) dar = 1 / dar;
  return Math.max(1, Math.round(tileWidth / dar));
}

/** Light text on a dark background, dark on a light one (`#rrggbb`). */
export function textColorOn(background: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(background.slice(i, i + 2), 16) || 0);
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b! > 140 ? 'black' : 'white';
}

export interface ComposeRequest {
  /** printf pattern of the tile images (`…/tile-%04d.png`), numbered without gaps. */
  tiles: string;
  /** Number of the first tile image. */
  first: number;
  /** Tiles on this sheet (fewer than columns × rows leaves the rest background). */
  count: number;
  layout: GridLayout;
  /** `#rrggbb`. */
  background: string;
  /** Text in sheet coordinates, drawn after the tiles (needs `font`). */
  texts: TextSpec[];
  font: string | null;
  format: StillFormat;
  quality: number;
  out: string;
  signal: AbortSignal;
  log: (line: string) => void;
  toolLog?: (line: string) => void;
  timeoutMs: number;
}

/**
 * Filters that lay `count` frames out as one image: each made exactly tile-sized, then `tile`,
 * then the band on top. Also the end of a sprite's decoding pass, where the frames come from fps.
 */
export function gridFilters(l: GridLayout, count: number, background: string): string[] {
  const bg = `0x${background.slice(1)}`;
  const filters = [
    `scale=w=${l.tileWidth}:h=${l.tileHeight}:force_original_aspect_ratio=decrease`,
    `pad=w=${l.tileWidth}:h=${l.tileHeight}:x=(ow-iw)/2:y=(oh-ih)/2:color=${bg}`,
    'setsar=1',
    // RGB until the end: in 4:2:0, tile and pad would round odd sizes down to even ones.
    'format=rgb24',
    `tile=layout=${l.columns}x${l.rows}:nb_frames=${count}:margin=${l.margin}:padding=${l.padding}:color=${bg}`,
  ];
  if (l.top > 0) filters.push(`pad=w=iw:h=ih+${l.top}:x=0:y=${l.top}:color=${bg}`);
  return filters;
}

/** The filter that lays out tile images and draws the texts. */
export function composeFilter(req: Pick<ComposeRequest, 'count' | 'layout' | 'background' | 'texts' | 'font' | 'format'>): string {
  const filters = gridFilters(req.layout, req.count, req.background);
  if (req.font) filters.push(...req.texts.map((t) => drawtextFilter(req.font ?? '', t)));
  filters.push(`format=${stillPixelFormat(req.format)}`);
  return filters.join(',');
}

/** Lays out `count` tile images into one sheet image at `out`. */
export async function composeSheet(req: ComposeRequest): Promise<void> {
  const args = [
    '-hide_banner', '-nostdin', '-v', 'level+info', '-nostats',
    // -reinit_filter 0: a tile of another size is scaled, instead of restarting the layout.
    '-f', 'image2', '-framerate', '1', '-start_number', String(req.first), '-reinit_filter', '0', '-i', req.tiles,
    '-vf', composeFilter(req), '-frames:v', '1',
    ...stillEncoderArgs(req.format, req.quality),
    '-f', 'image2', '-update', '1', '-y', req.out,
  ];
  req.log(`ffmpeg ${args.join(' ')}`);
  const res = await runProcess(ffmpegBinary(), args, { signal: req.signal, timeoutMs: req.timeoutMs, ...(req.toolLog && { onStderrLine: req.toolLog }) });
  if (res.exitCode !== 0) {
    // The tiles are our own images: a failure here is this worker's ffmpeg, not the input.
    const said = lastFfmpegLine(errorLines(res.stderr)) ?? 'no error message';
    throw new VidfleetError('FFMPEG_FAILED', `ffmpeg could not lay out the tiles into ${basename(req.out)} (exit ${res.exitCode}): ${said}`);
  }
}
