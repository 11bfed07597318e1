// What a sprite task will make, before ffmpeg runs: the cues (one thumbnail each, back to back
// from 0 to the duration), which sheet and cell each cue's thumbnail lands in, how the frames
// are read, the WebVTT text, and which sheets an earlier attempt already stored. Pure, so each
// rule is pinned by unit tests.
import { VidfleetError, MAX_SPRITE_THUMBNAILS, type SpriteParams, type SpriteSheet } from '../../protocol/index.js';
import { clockTime } from '../drawtext.js';
import { STILL_FORMATS, type StillFormat } from '../stills.js';

export const DEFAULT_INTERVAL = 10;

export interface SpritePlan {
  /** Seconds each cue covers (the last one ends at the duration, so it can be shorter). */
  interval: number;
  /** Cue boundaries in whole milliseconds: cue k is [bounds[k], bounds[k + 1]]. */
  bounds: number[];
  sheets: PlannedSheet[];
}

export interface PlannedSheet {
  /** 1-based, as in the artifact name. */
  index: number;
  /** Index of its first cue. */
  first: number;
  /** Cues (thumbnails) on it. */
  count: number;
  /** Rows it needs: all of them but on a last, partly filled sheet. */
  rows: number;
}

/**
 * Seconds of cue k's thumbnail: half an interval after the cue starts, which is its middle, but
 * for a last cue shorter than that its end (the last frame). This is what the decoding pass's
 * evenly spaced fps slots give, so both ways of reading show the same frames.
 */
export function thumbnailTime(plan: SpritePlan, k: number): number {
  const start = plan.bounds[k] ?? 0;
  const end = plan.bounds[k + 1] ?? start;
  return Math.min(start + (plan.interval * 1000) / 2, end) / 1000;
}

export function sheetName(index: number, format: StillFormat): string {
  return `sprite-${String(index).padStart(3, '0')}.${STILL_FORMATS[format].extension}`;
}

export function planSprite(params: SpriteParams, duration: number, input: string): SpritePlan {
  const columns = params.columns ?? 10;
  const perSheet = columns * (params.rows ?? 10);
  const interval = params.count ? duration / params.count : (params.interval ?? DEFAULT_INTERVAL);
  const total = Math.round(duration * 1000);
  // Counted in the milliseconds the cues are written in, so no cue is empty.
  const count = params.count ?? Math.max(1, Math.ceil(total / (interval * 1000) - 1e-9));
  if (count > total) {
    throw new VidfleetError('INVALID_PARAMS', `${input} is only ${duration.toFixed(3)} s long: ${count} thumbnails would be less than a millisecond apart. Ask for fewer.`, { details: { duration, count } });
  }
  if (count > MAX_SPRITE_THUMBNAILS) {
    throw new VidfleetError(
      'INVALID_PARAMS',
      `${input} is ${duration.toFixed(3)} s long, so an interval of ${interval} s makes ${count} thumbnails, more than the ${MAX_SPRITE_THUMBNAILS} a sprite job makes; use an interval of at least ${Math.ceil((duration / MAX_SPRITE_THUMBNAILS) * 10) / 10} s.`,
      { details: { duration, count } },
    );
  }
  const bounds = Array.from({ length: count + 1 }, (_, k) => (k === count ? total : Math.min(total, Math.round(k * interval * 1000))));
  const sheets: PlannedSheet[] = [];
  for (let first = 0; first < count; first += perSheet) {
    const n = Math.min(perSheet, count - first);
    sheets.push({ index: sheets.length + 1, first, count: n, rows: Math.ceil(n / columns) });
  }
  return { interval, bounds, sheets };
}

/**
 * One decoding pass per sheet (fps picks the frames) or a seek per thumbnail. Measured on the
 * 1080p25 5-minute H.264 file (2 s GOPs), 160 px thumbnails, 10×10 sheets, 2 busy cores:
 *
 *   keyframe mode   interval 2 s   pass 1.8 s   seeks 11.4 s
 *                   interval 10 s  pass 1.4 s   seeks  2.3 s
 *                   interval 30 s  pass 1.8 s   seeks  1.3 s
 *                   interval 60 s  pass 2.3 s   seeks  0.6 s
 *   exact mode      interval 1 s   pass 26 s    seeks 55 s
 *                   interval 2 s   pass 32 s    seeks 32 s
 *                   interval 10 s  pass 35 s    seeks  4.8 s
 *
 * A keyframe pass decodes every keyframe (~9 ms each at 1080p) where a seek costs ~70 ms per
 * thumbnail (each input reopens the file and reads its index), so the pass wins until there
 * are about 8 keyframes per thumbnail: 15 s at the common 2 s GOP. An exact pass decodes every
 * frame, a seek decodes from the keyframe before: the pass wins only when thumbnails are
 * closer than about a GOP. Seeks also read only the GOPs they need, which matters for URLs.
 */
export function spriteMethod(mode: 'keyframe' | 'exact', interval: number): 'pass' | 'seek' {
  return interval < (mode === 'keyframe' ? 15 : 2.5) ? 'pass' : 'seek';
}

/** Where cue `k`'s thumbnail is: its sheet and its rectangle there. */
export function cell(k: number, columns: number, rows: number, tileWidth: number, tileHeight: number): { sheet: number; x: number; y: number } {
  const perSheet = columns * rows;
  const at = k % perSheet;
  return { sheet: Math.floor(k / perSheet) + 1, x: (at % columns) * tileWidth, y: Math.floor(at / columns) * tileHeight };
}

/** The WebVTT thumbnails track: one cue per thumbnail, `sprite-001.jpg#xywh=x,y,w,h` (relative to the .vtt). */
export function spriteVtt(plan: SpritePlan, format: StillFormat, columns: number, rows: number, tileWidth: number, tileHeight: number): string {
  const lines = ['WEBVTT', ''];
  for (let k = 0; k + 1 < plan.bounds.length; k++) {
    const { sheet, x, y } = cell(k, columns, rows, tileWidth, tileHeight);
    lines.push(`${clockTime((plan.bounds[k] ?? 0) / 1000, true)} --> ${clockTime((plan.bounds[k + 1] ?? 0) / 1000, true)}`);
    lines.push(`${sheetName(sheet, format)}#xywh=${x},${y},${tileWidth},${tileHeight}`, '');
  }
  return lines.join('\n');
}

/** What a sprite attempt saves after each stored sheet. */
export interface SpriteCheckpoint {
  version: 1;
  /** Everything that decides what a sheet looks like; a retry with other values starts over. */
  key: string;
  tileHeight: number;
  done: SpriteSheet[];
}

export function checkpointKey(params: SpriteParams, plan: SpritePlan, mode: string, format: StillFormat, tileWidth: number): string {
  return JSON.stringify([plan.bounds.length - 1, plan.bounds.at(-1), params.columns ?? 10, params.rows ?? 10, tileWidth, mode, format, params.quality ?? null]);
}

/** The sheets an earlier attempt stored, by index, when it made them the same way. */
export function reusableSheets(resumeData: unknown, key: string, plan: SpritePlan, format: StillFormat): { tileHeight: number | null; done: Map<number, SpriteSheet> } {
  const done = new Map<number, SpriteSheet>();
  const cp = resumeData as Partial<SpriteCheckpoint> | null;
  if (!cp || cp.version !== 1 || cp.key !== key || typeof cp.tileHeight !== 'number' || !Array.isArray(cp.done)) return { tileHeight: null, done };
  for (const s of cp.done as unknown[]) {
    const sheet = s as Partial<SpriteSheet>;
    const planned = plan.sheets.find((p) => sheetName(p.index, format) === sheet.artifact);
    if (planned && sheet.thumbnails === planned.count && typeof sheet.width === 'number' && typeof sheet.height === 'number') done.set(planned.index, sheet as SpriteSheet);
  }
  return { tileHeight: cp.tileHeight, done };
}
