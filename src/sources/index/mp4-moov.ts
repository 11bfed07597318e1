// The moov box → the facts of each track a keyframe search needs: handler, codec and its
// configuration, media timescale, the edit-list shift, rotation, and where its sample table
// (stbl) sits. Fragmented files also have mvex/trex defaults here.
import { parseCodecConfig, type CodecConfig } from './codec-config.js';
import { childBoxes, findChild, findPath, fullBox, u64, type BoxHeader } from './mp4-boxes.js';
import { mp4Aspect, parseColr, type ColorInfo } from './picture.js';
import type { IndexedCodec } from './types.js';

export interface TrexDefaults {
  duration: number;
  size: number;
  flags: number;
}

export interface Mp4Track {
  trackId: number;
  enabled: boolean;
  handler: string;
  /** Sample entry type (avc1, hvc1, av01, vp09, encv …). */
  entry: string;
  codec: IndexedCodec | null;
  config: CodecConfig | null;
  width: number;
  height: number;
  timescale: number;
  /** mdhd duration in media ticks. */
  duration: number;
  rotation: 0 | 90 | 180 | 270;
  color: ColorInfo | null;
  sampleAspect: [number, number] | null;
  /**
   * Media ticks subtracted from dts + composition offset to give the presentation time in
   * fragments, as ffmpeg's mov demuxer does (sc->time_offset): the first edit's media_time
   * minus a leading empty edit. Sample tables refine it with SampleTable.editOffset.
   */
  timeOffset: number;
  /** The first non-empty edit (media ticks), or null without an edit list. */
  edit: { media: number; duration: number; empty: number } | null;
  stbl: BoxHeader | undefined;
}

export interface Mp4Movie {
  timescale: number;
  /** mvhd duration in movie ticks. */
  duration: number;
  tracks: Mp4Track[];
  /** Present in fragmented files. */
  mvex: { trex: Map<number, TrexDefaults>; fragmentDuration: number | null } | null;
}

const CODECS: Record<string, IndexedCodec> = { avc1: 'h264', avc3: 'h264', hvc1: 'hevc', hev1: 'hevc', dvh1: 'hevc', dvhe: 'hevc' };

/** mvhd / mdhd: timescale and duration (same layout after version). */
function timescaleAndDuration(buf: Buffer, box: BoxHeader): { timescale: number; duration: number } {
  const { version, body } = fullBox(buf, box);
  if (version === 1) return { timescale: buf.readUInt32BE(body + 16), duration: u64(buf, body + 20) };
  return { timescale: buf.readUInt32BE(body + 8), duration: buf.readUInt32BE(body + 12) };
}

function tkhd(buf: Buffer, box: BoxHeader): { trackId: number; enabled: boolean; rotation: 0 | 90 | 180 | 270; size: { width: number; height: number } } {
  const { version, flags, body } = fullBox(buf, box);
  const trackId = buf.readUInt32BE(body + (version === 1 ? 16 : 8));
  // matrix {a b u, c d v, x y w} after 8 reserved, layer, group, volume, 2 reserved.
  const m = body + (version === 1 ? 32 : 20) + 16;
  const a = buf.readInt32BE(m) / 65536;
  const b = buf.readInt32BE(m + 4) / 65536;
  const deg = (Math.round((Math.atan2(b, a) * 180) / Math.PI / 90) * 90 + 360) % 360;
  // Track width and height (16.16) follow the 36-byte matrix; ffmpeg keeps their integer part.
  const size = m + 44 <= box.end ? { width: buf.readUInt32BE(m + 36) >>> 16, height: buf.readUInt32BE(m + 40) >>> 16 } : { width: 0, height: 0 };
  return { trackId, enabled: (flags & 1) === 1, rotation: deg as 0 | 90 | 180 | 270, size };
}

/** First edit as ffmpeg reads it: an empty edit at index 0 delays, the next edit's media_time starts. */
function firstEdit(buf: Buffer, elst: BoxHeader | undefined, movieScale: number, mediaScale: number): Mp4Track['edit'] {
  if (!elst) return null;
  const { version, body } = fullBox(buf, elst);
  const count = buf.readUInt32BE(body);
  const entrySize = version === 1 ? 20 : 12;
  const toMedia = (movieTicks: number): number => Math.round((movieTicks * mediaScale) / (movieScale || 1));
  let empty = 0;
  for (let i = 0; i < count && body + 4 + (i + 1) * entrySize <= elst.end; i++) {
    const p = body + 4 + i * entrySize;
    const segment = version === 1 ? u64(buf, p) : buf.readUInt32BE(p);
    const mediaTime = version === 1 ? Number(buf.readBigInt64BE(p + 8)) : buf.readInt32BE(p + 4);
    if (mediaTime === -1) {
      empty += toMedia(segment);
      continue;
    }
    return { media: mediaTime, duration: toMedia(segment), empty };
  }
  return null;
}

interface SampleEntry {
  entry: string;
  width: number;
  height: number;
  /** avcC/hvcC, colr and pasp boxes of the entry, by type. */
  boxes: Map<string, BoxHeader>;
}

const NO_ENTRY: SampleEntry = { entry: 'none', width: 0, height: 0, boxes: new Map() };

function sampleEntry(buf: Buffer, stbl: BoxHeader | undefined, label: string): SampleEntry {
  const stsd = stbl && findChild(buf, stbl, 'stsd', label);
  if (!stsd) return NO_ENTRY;
  const { body } = fullBox(buf, stsd);
  const first = [...childBoxes(buf, body + 4, stsd.end, label)][0];
  if (!first) return NO_ENTRY;
  const boxes = new Map<string, BoxHeader>();
  // VisualSampleEntry fields end 86 bytes into the entry; its child boxes follow.
  if (first.end - first.start > 86) {
    for (const child of childBoxes(buf, first.start + 86, first.end, label)) if (!boxes.has(child.type)) boxes.set(child.type, child);
  }
  return { entry: first.type, width: buf.readUInt16BE(first.start + 32), height: buf.readUInt16BE(first.start + 34), boxes };
}

function edits(edit: Mp4Track['edit']): Pick<Mp4Track, 'edit' | 'timeOffset'> {
  return { edit, timeOffset: edit ? edit.media - edit.empty : 0 };
}

export function parseMoov(buf: Buffer, moov: BoxHeader, label: string): Mp4Movie {
  const mvhd = findChild(buf, moov, 'mvhd', label);
  const movie = mvhd ? timescaleAndDuration(buf, mvhd) : { timescale: 1000, duration: 0 };
  const tracks: Mp4Track[] = [];
  for (const trak of childBoxes(buf, moov.start + moov.headerSize, moov.end, label)) {
    if (trak.type !== 'trak') continue;
    const headBox = findChild(buf, trak, 'tkhd', label);
    const mdhd = findPath(buf, trak, ['mdia', 'mdhd'], label);
    const hdlr = findPath(buf, trak, ['mdia', 'hdlr'], label);
    if (!headBox || !mdhd || !hdlr) continue;
    const media = timescaleAndDuration(buf, mdhd);
    const stbl = findPath(buf, trak, ['mdia', 'minf', 'stbl'], label);
    const handler = buf.toString('latin1', fullBox(buf, hdlr).body + 4, fullBox(buf, hdlr).body + 8);
    // Only video sample entries have the 86-byte layout; audio and data ones differ (and
    // QuickTime sound descriptions have versions), so they are not looked into.
    const { entry, width, height, boxes } = handler === 'vide' ? sampleEntry(buf, stbl, label) : NO_ENTRY;
    const configBox = boxes.get('avcC') ?? boxes.get('hvcC');
    const codec = CODECS[entry] ?? null;
    const { size, ...head } = tkhd(buf, headBox);
    const colr = boxes.get('colr');
    const config = codec && configBox ? parseCodecConfig(codec, buf.subarray(configBox.start + configBox.headerSize, configBox.end)) : null;
    tracks.push({
      ...head,
      color: colr ? parseColr(buf, colr) : null,
      sampleAspect: mp4Aspect(buf, boxes.get('pasp'), { width, height }, size),
      handler,
      entry,
      codec,
      config,
      width,
      height,
      timescale: media.timescale,
      duration: media.duration,
      ...edits(firstEdit(buf, findPath(buf, trak, ['edts', 'elst'], label), movie.timescale, media.timescale)),
      stbl,
    });
  }
  const mvexBox = findChild(buf, moov, 'mvex', label);
  let mvex: Mp4Movie['mvex'] = null;
  if (mvexBox) {
    const trex = new Map<number, TrexDefaults>();
    let fragmentDuration: number | null = null;
    for (const box of childBoxes(buf, mvexBox.start + mvexBox.headerSize, mvexBox.end, label)) {
      const { version, body } = fullBox(buf, box);
      if (box.type === 'trex') trex.set(buf.readUInt32BE(body), { duration: buf.readUInt32BE(body + 8), size: buf.readUInt32BE(body + 12), flags: buf.readUInt32BE(body + 16) });
      if (box.type === 'mehd') fragmentDuration = version === 1 ? u64(buf, body) : buf.readUInt32BE(body);
    }
    mvex = { trex, fragmentDuration };
  }
  return { ...movie, tracks, mvex };
}

/**
 * The video track screenshots are taken from: the first one, as ffmpeg's `-map 0:V:0` picks
 * (the enabled flag is ignored there too; corpus file 05 has two HEVC tracks and V:0 is the first).
 */
export function videoTrack(movie: Mp4Movie): Mp4Track | undefined {
  return movie.tracks.find((t) => t.handler === 'vide');
}
