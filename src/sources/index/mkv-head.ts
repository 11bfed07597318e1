// Matroska/WebM up to the first Cluster: the EBML header, the Segment, its SeekHead, Info,
// Tracks and where the Cues are. Positions in SeekHead (and CueClusterPosition) count from the
// start of the Segment's data. Level-1 elements are walked by header when SeekHead does not
// name what is needed; Clusters are hopped by size, never read.
import { children, elementAt, float, ID, readElement, text, uint, type ElementHeader } from './ebml.js';
import { corrupt, truncated, unsupported, type IndexSource } from './index-source.js';
import { colorInfo, ratio, type ColorInfo } from './picture.js';

export interface MkvTrack {
  number: number;
  codecId: string;
  codecPrivate: Buffer | null;
  width: number;
  height: number;
  encoded: boolean;
  color: ColorInfo | null;
  sampleAspect: [number, number] | null;
}

/**
 * Video element: pixel size, and what ffmpeg's matroska demuxer derives from it: the sample
 * aspect ratio from DisplayWidth/DisplayHeight (they default to the pixel size, so a file
 * without them gets 1:1, above the bitstream's), and Colour.
 */
function parseVideo(buf: Buffer, from: number, to: number, fileOffset: number, label: string, t: MkvTrack): void {
  const v = new Map<number, number>();
  let colour: { matrix: number; range: number; transfer: number; primaries: number } | null = null;
  for (const c of children(buf, from, to, fileOffset, label)) {
    if (c.id !== ID.Colour) v.set(c.id, uint(buf, c.local, c.size!));
    else {
      colour = { matrix: 2, range: 0, transfer: 2, primaries: 2 };
      for (const k of children(buf, c.local, c.local + c.size!, fileOffset, label)) {
        const n = uint(buf, k.local, k.size!);
        if (k.id === ID.MatrixCoefficients) colour.matrix = n;
        if (k.id === ID.Range) colour.range = n;
        if (k.id === ID.TransferCharacteristics) colour.transfer = n;
        if (k.id === ID.Primaries) colour.primaries = n;
      }
    }
  }
  t.width = v.get(ID.PixelWidth) ?? 0;
  t.height = v.get(ID.PixelHeight) ?? 0;
  if ((v.get(ID.DisplayUnit) ?? 0) < 4) t.sampleAspect = ratio(t.height * (v.get(ID.DisplayWidth) ?? t.width), t.width * (v.get(ID.DisplayHeight) ?? t.height));
  if (colour) t.color = colorInfo(colour.primaries, colour.transfer, colour.matrix, colour.range === 1 ? 'tv' : colour.range === 2 ? 'pc' : null);
}

export interface MkvHead {
  docType: string;
  segmentData: number;
  segmentEnd: number;
  timestampScale: number;
  /** Seconds, or null when Info has no Duration (live recordings). */
  duration: number | null;
  video: MkvTrack | null;
  /** File offset of the Cues element, when there is one. */
  cues: number | null;
}

/** Reads one element with its data; its children are then parsed from memory. */
export async function loadElement(src: IndexSource, offset: number, what: string): Promise<{ el: ElementHeader; buf: Buffer }> {
  const el = await readElement(src, offset);
  if (el.size === null) throw unsupported(src.label, `its ${what} has an unknown size`, 'unknown-size');
  if (el.data + el.size > src.size) throw truncated(src.label, what, el.data + el.size, src.size);
  return { el, buf: await src.exact(el.data, el.size, what, 0) };
}

function parseTracks(buf: Buffer, fileOffset: number, label: string): MkvTrack | null {
  for (const entry of children(buf, 0, buf.length, fileOffset, label)) {
    if (entry.id !== ID.TrackEntry) continue;
    const t: MkvTrack = { number: 0, codecId: '', codecPrivate: null, width: 0, height: 0, encoded: false, color: null, sampleAspect: null };
    let type = 0;
    for (const c of children(buf, entry.local, entry.local + entry.size!, fileOffset, label)) {
      const at = c.local;
      const n = c.size!;
      if (c.id === ID.TrackNumber) t.number = uint(buf, at, n);
      else if (c.id === ID.TrackType) type = uint(buf, at, n);
      else if (c.id === ID.CodecID) t.codecId = text(buf, at, n);
      else if (c.id === ID.CodecPrivate) t.codecPrivate = Buffer.from(buf.subarray(at, at + n));
      else if (c.id === ID.ContentEncodings) t.encoded = true;
      else if (c.id === ID.Video) parseVideo(buf, at, at + n, fileOffset, label, t);
    }
    // The first video track, as ffmpeg's V:0 (TrackEntry order is stream order).
    if (type === 1) return t;
  }
  return null;
}

export async function readMkvHead(src: IndexSource): Promise<MkvHead> {
  const ebml = await readElement(src, 0);
  if (ebml.id !== ID.EBML || ebml.size === null) throw corrupt(src.label, 'no EBML header');
  const header = await src.exact(ebml.data, ebml.size, 'EBML header');
  let docType = 'matroska';
  for (const c of children(header, 0, header.length, ebml.data, src.label)) if (c.id === ID.DocType) docType = text(header, c.local, c.size!);
  const seg = await readElement(src, ebml.data + ebml.size);
  if (seg.id !== ID.Segment) throw corrupt(src.label, 'no Segment after the EBML header');
  const segEnd = seg.size === null ? src.size : seg.data + seg.size;
  const at = new Map<number, number>();
  const seekHeads = new Set<number>();
  const beyond = new Map<number, number>();
  let pos = seg.data;
  let inClusters = false;
  // Walk level-1 elements until Info, Tracks and Cues are placed (by SeekHead or by walking).
  while (pos < Math.min(segEnd, src.size) && !(at.has(ID.Info) && at.has(ID.Tracks) && at.has(ID.Cues))) {
    // Hopping clusters: 12 exact bytes per hop, no read-ahead into the media.
    const el = await readElement(src, pos, inClusters ? 0 : undefined);
    if (el.id === ID.SeekHead && !seekHeads.has(el.start)) {
      seekHeads.add(el.start);
      await readSeekHead(src, el.start, seg.data, at, seekHeads, beyond);
    } else if (el.id === ID.Info || el.id === ID.Tracks || el.id === ID.Cues) {
      at.set(el.id, el.start);
    } else if (el.id === ID.Cluster) {
      inClusters = true;
      // Clusters come after Info and Tracks; if SeekHead placed no Cues, walk on past them.
      if (at.has(ID.Info) && at.has(ID.Tracks) && at.has(ID.Cues)) break;
    }
    if (el.size === null) break; // an unknown-size Cluster cannot be hopped: nothing after it is found
    pos = el.data + el.size;
  }
  // A cut download: SeekHead names Cues (or Tracks) where the file no longer reaches.
  for (const [id, what] of [[ID.Tracks, 'Tracks element'], [ID.Cues, 'Cues element']] as const) {
    const past = beyond.get(id);
    if (!at.has(id) && past !== undefined) throw truncated(src.label, `${what} (at byte ${past}, per SeekHead)`, past + 1, src.size);
  }
  const info = at.get(ID.Info);
  let timestampScale = 1_000_000;
  let duration: number | null = null;
  if (info !== undefined) {
    const { el, buf } = await loadElement(src, info, 'Info element');
    for (const c of children(buf, 0, buf.length, el.data, src.label)) {
      if (c.id === ID.TimestampScale) timestampScale = uint(buf, c.local, c.size!) || timestampScale;
      if (c.id === ID.Duration) duration = float(buf, c.local, c.size!);
    }
  }
  const tracksAt = at.get(ID.Tracks);
  if (tracksAt === undefined) throw corrupt(src.label, 'no Tracks element');
  const tracks = await loadElement(src, tracksAt, 'Tracks element');
  return {
    docType,
    segmentData: seg.data,
    segmentEnd: segEnd,
    timestampScale,
    duration: duration === null ? null : (duration * timestampScale) / 1e9,
    video: parseTracks(tracks.buf, tracks.el.data, src.label),
    cues: at.get(ID.Cues) ?? null,
  };
}

/**
 * Reads a SeekHead into `at` (element ID → file offset); entries that point past the end of
 * the file (a cut download) go into `beyond` instead.
 */
async function readSeekHead(src: IndexSource, offset: number, segData: number, at: Map<number, number>, seen: Set<number>, beyond: Map<number, number>): Promise<void> {
  const { el, buf } = await loadElement(src, offset, 'SeekHead');
  for (const seek of children(buf, 0, buf.length, el.data, src.label)) {
    if (seek.id !== ID.Seek) continue;
    let id = 0;
    let position = -1;
    for (const c of children(buf, seek.local, seek.local + seek.size!, el.data, src.label)) {
      if (c.id === ID.SeekID) id = uint(buf, c.local, c.size!);
      if (c.id === ID.SeekPosition) position = uint(buf, c.local, c.size!);
    }
    if (position < 0) continue;
    const target = segData + position;
    if (target >= src.size) {
      beyond.set(id, target);
      continue;
    }
    // A SeekHead may point at a second SeekHead (mkvmerge does for files with many clusters).
    if (id === ID.SeekHead && !seen.has(target)) {
      seen.add(target);
      await readSeekHead(src, target, segData, at, seen, beyond);
    } else if (!at.has(id)) {
      // Check the element really is there: a bogus SeekHead (corpus bad_01) must not send us astray.
      const head = await src.bytes(target, 12);
      let found: number | undefined;
      try {
        found = elementAt(head, 0, target, src.label)?.id;
      } catch {
        found = undefined;
      }
      if (found === id) at.set(id, target);
    }
  }
}
