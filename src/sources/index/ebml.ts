// EBML (RFC 8794), the encoding of Matroska/WebM: every element is an ID (a variable-length
// integer whose marker bits are kept, 1-4 bytes), a size (a variable-length integer with the
// marker removed, 1-8 bytes; all value bits set = unknown size), then the data.
import { corrupt, truncated, type IndexSource } from './index-source.js';

export interface ElementHeader {
  id: number;
  /** Offset of the element (its ID). */
  start: number;
  /** Offset of its data. */
  data: number;
  /** Bytes of data, null for unknown size (live recordings: the Segment and Clusters of corpus file 12). */
  size: number | null;
}

/** Length in bytes of a variable-length integer from its first byte (0 when invalid). */
function vintLength(first: number): number {
  for (let len = 1; len <= 8; len++) if (first & (0x80 >> (len - 1))) return len;
  return 0;
}

/** A variable-length integer with its marker removed (a track number in a block header). */
export function vint(buf: Buffer, pos: number): { value: number; length: number } | null {
  if (pos >= buf.length) return null;
  const length = vintLength(buf[pos]!);
  if (length === 0 || pos + length > buf.length) return null;
  let value = buf[pos]! & (0xff >> length);
  for (let i = 1; i < length; i++) value = value * 256 + buf[pos + i]!;
  return { value, length };
}

/** Parses an element header at buf[pos]; null when buf ends before the header does. */
export function elementAt(buf: Buffer, pos: number, fileOffset: number, label: string): ElementHeader | null {
  if (pos >= buf.length) return null;
  const idLen = vintLength(buf[pos]!);
  if (idLen === 0 || idLen > 4) throw corrupt(label, `no EBML element at byte ${fileOffset + pos}`);
  if (pos + idLen >= buf.length) return null;
  const sizeLen = vintLength(buf[pos + idLen]!);
  if (sizeLen === 0) throw corrupt(label, `bad EBML size at byte ${fileOffset + pos + idLen}`);
  if (pos + idLen + sizeLen > buf.length) return null;
  const id = buf.readUIntBE(pos, idLen);
  let size = buf[pos + idLen]! & (0xff >> sizeLen);
  let allOnes = size === 0xff >> sizeLen;
  for (let i = 1; i < sizeLen; i++) {
    const b = buf[pos + idLen + i]!;
    size = size * 256 + b;
    allOnes &&= b === 0xff;
  }
  return { id, start: fileOffset + pos, data: fileOffset + pos + idLen + sizeLen, size: allOnes ? null : size };
}

/** Reads the header of the element at `offset` in the file. */
export async function readElement(src: IndexSource, offset: number, readAhead?: number): Promise<ElementHeader> {
  const head = await src.bytes(offset, 12, readAhead);
  const el = elementAt(head, 0, offset, src.label);
  if (!el) throw truncated(src.label, `EBML element header at ${offset}`, offset + 12, src.size);
  return el;
}

/** The children of an element whose data is all in `buf` (buf[0] is at file offset `fileOffset`). */
export function* children(buf: Buffer, from: number, to: number, fileOffset: number, label: string): Generator<ElementHeader & { local: number }> {
  let pos = from;
  while (pos < to) {
    const el = elementAt(buf, pos, fileOffset, label);
    if (!el) return;
    const local = el.data - fileOffset;
    if (el.size === null || local + el.size > to) return; // unknown or overlong child: stop here
    yield { ...el, local };
    pos = local + el.size;
  }
}

export function uint(buf: Buffer, at: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + buf[at + i]!;
  return v;
}

export function float(buf: Buffer, at: number, size: number): number {
  return size === 4 ? buf.readFloatBE(at) : size === 8 ? buf.readDoubleBE(at) : 0;
}

export function text(buf: Buffer, at: number, size: number): string {
  return buf.toString('latin1', at, at + size).replace(/\0+$/, '');
}

export const ID = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Seek: 0x4dbb,
  SeekID: 0x53ab,
  SeekPosition: 0x53ac,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  Duration: 0x4489,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  DisplayWidth: 0x54b0,
  DisplayHeight: 0x54ba,
  DisplayUnit: 0x54b2,
  Colour: 0x55b0,
  MatrixCoefficients: 0x55b1,
  Range: 0x55b9,
  TransferCharacteristics: 0x55ba,
  Primaries: 0x55bb,
  ContentEncodings: 0x6d80,
  Cues: 0x1c53bb6b,
  CuePoint: 0xbb,
  CueTime: 0xb3,
  CueTrackPositions: 0xb7,
  CueTrack: 0xf7,
  CueClusterPosition: 0xf1,
  CueRelativePosition: 0xf0,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  ReferenceBlock: 0xfb,
} as const;
