// What a contact sheet will look like before ffmpeg runs: the header's lines (file name, duration,
// size, display resolution, frame rate, codecs), the sizes of the text, and where each tile's
// time goes. Pure, so the rules are pinned by unit tests.
import type { ContactSheetHeader, ProbeReport } from '../../protocol/index.js';
import { clockTime, type TextSpec } from '../drawtext.js';
import { tileOrigin, type GridLayout } from '../sheet-grid.js';
import type { ShotSource } from './still-shots.js';

/** The name a person knows the input by: the file's name, or the last part of a URL's path. */
export function displayName(input: string): string {
  let path = input;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    try {
      const url = new URL(input);
      path = decodeURIComponent(url.pathname) || url.host;
    } catch {
      // not a URL after all: use it as a path
    }
  }
  return path.replace(/\/+$/, '').split('/').pop() || input;
}

/** Bytes as people read them on a disk: decimal MB below 1 GB, GB above. */
export function formatSize(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function formatRate(fps: number): string {
  return `${Number(fps.toFixed(3))} fps`;
}

export type HeaderInfo = Omit<ContactSheetHeader, 'lines' | 'height'>;

export function headerInfo(source: ShotSource, input: string): HeaderInfo {
  const { probe, stream, video, duration } = source;
  const audio = probe.primaryAudio === null ? undefined : probe.streams[probe.primaryAudio];
  return {
    fileName: displayName(input),
    duration,
    size: probe.container.size,
    displayWidth: video.displayWidth,
    displayHeight: video.displayHeight,
    frameRate: video.frameRate && video.frameRate <= 300 ? video.frameRate : null,
    videoCodec: stream.codec,
    audioCodec: audio?.codec ?? null,
  };
}

function describeAudio(probe: ProbeReport): string {
  const audio = probe.primaryAudio === null ? undefined : probe.streams[probe.primaryAudio];
  if (!audio) return 'Audio: none';
  const rate = audio.audio?.sampleRate ? `${Number((audio.audio.sampleRate / 1000).toFixed(1))} kHz` : null;
  const layout = audio.audio?.channelLayout ?? (audio.audio?.channels ? `${audio.audio.channels} ch` : null);
  return `Audio: ${[audio.codec ?? 'unknown', rate, layout].filter(Boolean).join(', ')}`;
}

/** Keeps the start and the end of a long name (the extension and any episode number live there). */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 3) return text.slice(0, max);
  const head = Math.ceil((max - 3) / 2);
  return `${text.slice(0, head)}...${text.slice(text.length - (max - 3 - head))}`;
}

export function headerLines(info: HeaderInfo, source: ShotSource, maxChars: number): string[] {
  const facts = [`Duration: ${clockTime(info.duration, info.duration < 10)}`]; // a phone clip of 0.3 s is not 00:00:00
  if (info.size !== null) facts.push(`Size: ${formatSize(info.size)}`);
  facts.push(`${info.displayWidth}x${info.displayHeight}`);
  if (info.frameRate !== null) facts.push(formatRate(info.frameRate));
  const profile = source.stream.profile ? ` (${source.stream.profile})` : '';
  return [
    shorten(info.fileName, maxChars),
    shorten(facts.join('  |  '), maxChars),
    shorten(`Video: ${info.videoCodec ?? 'unknown'}${profile}  |  ${describeAudio(source.probe)}`, maxChars),
  ];
}

export interface HeaderBand {
  height: number;
  texts: TextSpec[];
  fontSize: number;
}

/** DejaVu Sans averages a little over half an em per character. */
const CHAR_EM = 0.6;

/** The header's text size for a sheet this wide, and how many characters fit on a line. */
export function headerFont(sheetWidth: number, margin: number): { size: number; maxChars: number; x: number } {
  const size = Math.min(28, Math.max(10, Math.round(sheetWidth / 64)));
  const x = Math.max(margin, 4);
  return { size, x, maxChars: Math.max(8, Math.floor((sheetWidth - 2 * x) / (size * CHAR_EM))) };
}

/** The band on top: its height and the text lines in it (the grid's margin separates it from the tiles). */
export function headerBand(lines: readonly string[], sheetWidth: number, margin: number, color: string): HeaderBand {
  const { size, x } = headerFont(sheetWidth, margin);
  const lineHeight = Math.round(size * 1.5);
  const top = Math.max(margin, Math.round(size / 2));
  return {
    height: top + lines.length * lineHeight,
    fontSize: size,
    texts: lines.map((text, i) => ({ text, x: String(x), y: String(top + i * lineHeight), size, color })),
  };
}

export function timestampSize(tileWidth: number): number {
  return Math.min(48, Math.max(10, Math.round(tileWidth / 20)));
}

/** Tile `i`'s time in its lower right corner, white on a dark box so it reads on any picture. */
export function timestampText(layout: GridLayout, i: number, text: string): TextSpec {
  const size = timestampSize(layout.tileWidth);
  const inset = Math.max(2, Math.round(size / 5)) + 2;
  const { x, y } = tileOrigin(layout, i);
  return { text, x: `${x + layout.tileWidth - inset}-tw`, y: `${y + layout.tileHeight - inset}-th`, size, color: 'white', box: 'black@0.6' };
}

/** Whole seconds say enough unless tiles are under two seconds apart. */
export function tileClock(seconds: number, duration: number, tiles: number): string {
  return clockTime(seconds, duration / tiles < 2);
}
