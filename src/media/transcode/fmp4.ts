// Reads the few boxes of fragmented MP4 (CMAF-style init + media segments) that packaging needs:
// the RFC 6381 codec string of each track from its init segment, and per media segment the
// samples, decode-time span and sync flag of each track. Packaging checks segments with this
// instead of ffprobe because it costs one small read per segment (the moof, never the media),
// names the exact file that is wrong, and sees what a player's MSE parser sees: the sample
// flags and durations the muxer wrote, and whether the mdat really holds the bytes trun promises.
import { open } from 'node:fs/promises';

interface Box {
  type: string;
  /** Offsets of the whole box and of its payload, within the buffer or file. */
  start: number;
  body: number;
  end: number;
}

function* children(buf: Buffer, start: number, end: number): Generator<Box> {
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let body = at + 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      body += 8;
    } else if (size === 0) size = end - at;
    if (size < body - at || at + size > end) throw new Error(`box ${type} at byte ${at} runs past the end of its container`);
    yield { type, start: at, body, end: at + size };
    at += size;
  }
}

function child(buf: Buffer, box: Box, type: string): Box | undefined {
  for (const c of children(buf, box.body, box.end)) if (c.type === type) return c;
  return undefined;
}

function path(buf: Buffer, box: Box, ...types: string[]): Box | undefined {
  let cur: Box | undefined = box;
  for (const t of types) cur = cur && child(buf, cur, t);
  return cur;
}

export interface InitTrack {
  id: number;
  /** 'vide', 'soun', … from hdlr. */
  handler: string;
  timescale: number;
  /** RFC 6381 codecs parameter, e.g. avc1.64001e, hvc1.1.6.L93.B0, av01.0.04M.08, mp4a.40.2. */
  codec: string;
  width?: number;
  height?: number;
  /** trex defaults, used where a fragment leaves duration or flags out. */
  defaultDuration: number;
  defaultFlags: number;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

function reverseBits32(n: number): number {
  let r = 0;
  for (let i = 0; i < 32; i++) r = (r << 1) | ((n >>> i) & 1);
  return r >>> 0;
}

/** ISO/IEC 14496-15 annex E: hvc1.[space]profile.compat(bit-reversed).tier+level.constraints. */
function hevcCodec(type: string, c: Buffer): string {
  const space = ['', 'A', 'B', 'C'][c[1]! >> 6];
  const tier = c[1]! & 0x20 ? 'H' : 'L';
  const constraints = [...c.subarray(6, 12)];
  while (constraints.length && constraints[constraints.length - 1] === 0) constraints.pop();
  const parts = [type, `${space}${c[1]! & 0x1f}`, reverseBits32(c.readUInt32BE(2)).toString(16), `${tier}${c[12]}`];
  return [...parts, ...constraints.map((b) => b.toString(16).toUpperCase())].join('.');
}

/** AV1 codec ISO media file format binding §5: av01.profile.levelTier.bitDepth. */
function av1Codec(c: Buffer): string {
  const depth = c[2]! & 0x20 ? 12 : c[2]! & 0x40 ? 10 : 8;
  return `av01.${c[1]! >> 5}.${String(c[1]! & 0x1f).padStart(2, '0')}${c[2]! & 0x80 ? 'H' : 'M'}.${String(depth).padStart(2, '0')}`;
}

/** mp4a.OTI[.AOT] from the esds descriptors (ES → DecoderConfig → DecoderSpecificInfo). */
function mp4aCodec(buf: Buffer, esds: Box): string {
  let at = esds.body + 4;
  const descriptor = (): { tag: number; body: number; end: number } => {
    const tag = buf[at++]!;
    let size = 0;
    for (let i = 0; i < 4; i++) {
      const b = buf[at++]!;
      size = (size << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
    }
    return { tag, body: at, end: at + size };
  };
  const es = descriptor();
  if (es.tag !== 3) return 'mp4a';
  const flags = buf[es.body + 2]!;
  at = es.body + 3 + (flags & 0x80 ? 2 : 0);
  if (flags & 0x40) at += 1 + buf[at]!;
  if (flags & 0x20) at += 2;
  const config = descriptor();
  if (config.tag !== 4) return 'mp4a';
  const oti = buf[config.body]!;
  if (oti !== 0x40) return `mp4a.${hex2(oti)}`;
  at = config.body + 13;
  const info = descriptor();
  if (info.tag !== 5) return 'mp4a.40';
  const aot = buf[info.body]! >> 3;
  return `mp4a.40.${aot === 31 ? 32 + (((buf[info.body]! & 7) << 3) | (buf[info.body + 1]! >> 5)) : aot}`;
}

function sampleEntry(buf: Buffer, stsd: Box): Pick<InitTrack, 'codec' | 'width' | 'height'> {
  const entry = children(buf, stsd.body + 8, stsd.end).next().value;
  if (!entry) throw new Error('stsd has no sample entry');
  const { type } = entry;
  const visual = entry.body + 78;
  const config = (name: string): Buffer | undefined => {
    for (const c of children(buf, visual, entry.end)) if (c.type === name) return buf.subarray(c.body, c.end);
    return undefined;
  };
  const size = { width: buf.readUInt16BE(entry.body + 24), height: buf.readUInt16BE(entry.body + 26) };
  if (type === 'avc1' || type === 'avc3') {
    const c = config('avcC');
    if (!c) throw new Error(`${type} sample entry without avcC`);
    return { codec: `${type}.${hex2(c[1]!)}${hex2(c[2]!)}${hex2(c[3]!)}`, ...size };
  }
  if (type === 'hvc1' || type === 'hev1') {
    const c = config('hvcC');
    if (!c) throw new Error(`${type} sample entry without hvcC`);
    return { codec: hevcCodec(type, c), ...size };
  }
  if (type === 'av01') {
    const c = config('av1C');
    if (!c) throw new Error('av01 sample entry without av1C');
    return { codec: av1Codec(c), ...size };
  }
  if (type === 'mp4a') {
    for (const c of children(buf, entry.body + 28, entry.end)) if (c.type === 'esds') return { codec: mp4aCodec(buf, c) };
    return { codec: 'mp4a' };
  }
  const named: Record<string, string> = { Opus: 'opus', fLaC: 'flac', 'ac-3': 'ac-3', 'ec-3': 'ec-3', vp09: 'vp09' };
  return { codec: named[type] ?? type };
}

/** The tracks an init segment (ftyp + moov with mvex) declares. */
export function parseInit(buf: Buffer): InitTrack[] {
  const top = [...children(buf, 0, buf.length)];
  const moov = top.find((b) => b.type === 'moov');
  if (!moov) throw new Error('no moov box');
  const trex = new Map<number, { duration: number; flags: number }>();
  const mvex = child(buf, moov, 'mvex');
  if (mvex) {
    for (const t of children(buf, mvex.body, mvex.end)) {
      if (t.type === 'trex') trex.set(buf.readUInt32BE(t.body + 4), { duration: buf.readUInt32BE(t.body + 12), flags: buf.readUInt32BE(t.body + 20) });
    }
  }
  const tracks: InitTrack[] = [];
  for (const trak of children(buf, moov.body, moov.end)) {
    if (trak.type !== 'trak') continue;
    const tkhd = child(buf, trak, 'tkhd');
    const mdhd = path(buf, trak, 'mdia', 'mdhd');
    const hdlr = path(buf, trak, 'mdia', 'hdlr');
    const stsd = path(buf, trak, 'mdia', 'minf', 'stbl', 'stsd');
    if (!tkhd || !mdhd || !hdlr || !stsd) throw new Error('a trak lacks tkhd, mdhd, hdlr or stsd');
    const id = buf.readUInt32BE(tkhd.body + (buf[tkhd.body] === 1 ? 20 : 12));
    const timescale = buf.readUInt32BE(mdhd.body + (buf[mdhd.body] === 1 ? 20 : 12));
    const defaults = trex.get(id) ?? { duration: 0, flags: 0 };
    tracks.push({ id, handler: buf.toString('latin1', hdlr.body + 8, hdlr.body + 12), timescale, ...sampleEntry(buf, stsd), defaultDuration: defaults.duration, defaultFlags: defaults.flags });
  }
  return tracks;
}

export interface FragmentTrack {
  samples: number;
  /** Decode time of the first sample (tfdt) and the summed sample durations, in the track timescale. */
  startTime: number;
  duration: number;
  /** Whether the first sample in decode order is a sync sample (sample_is_non_sync_sample clear). */
  startsWithSync: boolean;
}

const NON_SYNC = 0x10000;

/**
 * Reads a media segment's moofs (only their bytes, then each box header) and sums up each track.
 * Throws when a box or a run's sample data reaches past the end of the file: a truncated segment.
 */
export async function readSegment(file: string, init: InitTrack[]): Promise<Map<number, FragmentTrack>> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const out = new Map<number, FragmentTrack>();
    const header = Buffer.alloc(16);
    for (let at = 0; at < size; ) {
      const { bytesRead } = await fh.read(header, 0, 16, at);
      if (bytesRead < 8) throw new Error(`${size - at} stray bytes at the end of the file`);
      const small = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      const boxSize = small === 1 ? Number(header.readBigUInt64BE(8)) : small === 0 ? size - at : small;
      if (boxSize < 8 || at + boxSize > size) throw new Error(`box ${type} at byte ${at} needs ${boxSize} bytes but the file ends after ${size - at}`);
      if (type === 'moof') {
        const moof = Buffer.alloc(boxSize);
        await fh.read(moof, 0, boxSize, at);
        readMoof(moof, at, size, init, out);
      }
      at += boxSize;
    }
    return out;
  } finally {
    await fh.close();
  }
}

function readMoof(buf: Buffer, fileOffset: number, fileSize: number, init: InitTrack[], out: Map<number, FragmentTrack>): void {
  const moof = children(buf, 0, buf.length).next().value!;
  // Where sample data starts when a run does not say: right after the previous run (ISO 14496-12 8.8.7/8.8.8).
  let cursor = fileOffset;
  for (const traf of children(buf, moof.body, moof.end)) {
    if (traf.type !== 'traf') continue;
    const tfhd = child(buf, traf, 'tfhd');
    if (!tfhd) throw new Error('traf without tfhd');
    const tfFlags = buf.readUInt32BE(tfhd.body) & 0xffffff;
    const id = buf.readUInt32BE(tfhd.body + 4);
    const track = init.find((t) => t.id === id);
    if (!track) throw new Error(`fragment for track ${id}, which the init segment does not declare`);
    let at = tfhd.body + 8;
    let base = tfFlags & 0x20000 ? fileOffset : cursor;
    if (tfFlags & 0x01) {
      base = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    if (tfFlags & 0x02) at += 4;
    cursor = base;
    const defDuration = tfFlags & 0x08 ? buf.readUInt32BE(at) : track.defaultDuration;
    at += tfFlags & 0x08 ? 4 : 0;
    const defSize = tfFlags & 0x10 ? buf.readUInt32BE(at) : 0;
    at += tfFlags & 0x10 ? 4 : 0;
    const defFlags = tfFlags & 0x20 ? buf.readUInt32BE(at) : track.defaultFlags;
    const tfdt = child(buf, traf, 'tfdt');
    const startTime = tfdt ? (buf[tfdt.body] === 1 ? Number(buf.readBigUInt64BE(tfdt.body + 4)) : buf.readUInt32BE(tfdt.body + 4)) : NaN;
    const sum = out.get(id) ?? { samples: 0, startTime, duration: 0, startsWithSync: true };
    for (const trun of children(buf, traf.body, traf.end)) {
      if (trun.type !== 'trun') continue;
      const flags = buf.readUInt32BE(trun.body) & 0xffffff;
      const count = buf.readUInt32BE(trun.body + 4);
      let p = trun.body + 8;
      if (flags & 0x01) cursor = base + buf.readInt32BE(p);
      p += flags & 0x01 ? 4 : 0;
      const firstFlags = flags & 0x04 ? buf.readUInt32BE(p) : undefined;
      p += flags & 0x04 ? 4 : 0;
      let bytes = 0;
      for (let i = 0; i < count; i++) {
        sum.duration += flags & 0x100 ? buf.readUInt32BE(p) : defDuration;
        p += flags & 0x100 ? 4 : 0;
        bytes += flags & 0x200 ? buf.readUInt32BE(p) : defSize;
        p += flags & 0x200 ? 4 : 0;
        const sampleFlags = flags & 0x400 ? buf.readUInt32BE(p) : i === 0 && firstFlags !== undefined ? firstFlags : defFlags;
        p += flags & 0x400 ? 4 : 0;
        p += flags & 0x800 ? 4 : 0;
        if (sum.samples === 0 && i === 0) sum.startsWithSync = (sampleFlags & NON_SYNC) === 0;
      }
      sum.samples += count;
      cursor += bytes;
      if (cursor > fileSize) throw new Error(`track ${id}'s samples need bytes up to ${cursor} but the file has ${fileSize}`);
    }
    out.set(id, sum);
  }
}
