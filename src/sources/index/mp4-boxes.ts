// ISO BMFF (MP4/MOV) box plumbing (ISO/IEC 14496-12 §4.2): a box is a 32-bit size and a
// 4-character type, size 1 means a 64-bit size follows, size 0 means "to the end of the
// enclosing space". Parsing of a box already in memory is synchronous; only top-level headers
// are read from the source.
import { corrupt, truncated, type IndexSource } from './index-source.js';

export interface BoxHeader {
  type: string;
  /** Offset of the box (its size field). */
  start: number;
  headerSize: number;
  /** Offset just past the box. */
  end: number;
}

/** Reads the header of the box at `buf[pos]`, which must end by `limit` (a buffer index). */
export function boxAt(buf: Buffer, pos: number, limit: number, label: string): BoxHeader {
  if (pos + 8 > limit) throw corrupt(label, `a box header at +${pos} runs past its parent`);
  const size32 = buf.readUInt32BE(pos);
  const type = buf.toString('latin1', pos + 4, pos + 8);
  let headerSize = 8;
  let size = size32;
  if (size32 === 1) {
    if (pos + 16 > limit) throw corrupt(label, `the 64-bit size of box "${type}" runs past its parent`);
    size = Number(buf.readBigUInt64BE(pos + 8));
    headerSize = 16;
  } else if (size32 === 0) {
    size = limit - pos;
  }
  if (size < headerSize || pos + size > limit) throw corrupt(label, `box "${type}" at +${pos} claims ${size} bytes, past the end of its parent`);
  return { type, start: pos, headerSize, end: pos + size };
}

/** The child boxes of the box spanning buf[start, end) whose payload starts at `first`. */
export function* childBoxes(buf: Buffer, first: number, end: number, label: string): Generator<BoxHeader> {
  let pos = first;
  while (pos + 8 <= end) {
    const box = boxAt(buf, pos, end, label);
    yield box;
    pos = box.end;
  }
}

export function findChild(buf: Buffer, parent: BoxHeader, type: string, label: string, skip = 0): BoxHeader | undefined {
  for (const box of childBoxes(buf, parent.start + parent.headerSize + skip, parent.end, label)) if (box.type === type) return box;
  return undefined;
}

/** Follows a path of box types down from `parent` (the first match at each level). */
export function findPath(buf: Buffer, parent: BoxHeader, path: readonly string[], label: string): BoxHeader | undefined {
  let at: BoxHeader | undefined = parent;
  for (const type of path) {
    if (!at) return undefined;
    at = findChild(buf, at, type, label);
  }
  return at;
}

/** Full box (version + flags) payload start. */
export function fullBox(buf: Buffer, box: BoxHeader): { version: number; flags: number; body: number } {
  const p = box.start + box.headerSize;
  if (p + 4 > box.end) throw new RangeError(`full box "${box.type}" has no version`);
  return { version: buf[p]!, flags: buf.readUIntBE(p + 1, 3), body: p + 4 };
}

/** Reads a 64-bit unsigned value as a number (offsets and times far below 2^53 in practice). */
export function u64(buf: Buffer, pos: number): number {
  return Number(buf.readBigUInt64BE(pos));
}

/**
 * The header of the top-level box at `offset` in the file. `readAhead`: what the cache may
 * fetch with it (the box's contents, when the caller is about to read them).
 */
export async function topLevelBox(src: IndexSource, offset: number, readAhead?: number): Promise<BoxHeader | null> {
  if (offset >= src.size) return null;
  const head = await src.bytes(offset, 16, readAhead);
  if (head.length < 8) throw truncated(src.label, `box header at ${offset}`, offset + 8, src.size);
  const size32 = head.readUInt32BE(0);
  const type = head.toString('latin1', 4, 8);
  if (!/^[\x20-\x7e]{4}$/.test(type)) throw corrupt(src.label, `no MP4 box at byte ${offset} (type bytes ${head.subarray(4, 8).toString('hex')})`);
  let size = size32;
  let headerSize = 8;
  if (size32 === 1) {
    if (head.length < 16) throw truncated(src.label, `box "${type}" header`, offset + 16, src.size);
    size = u64(head, 8);
    headerSize = 16;
  } else if (size32 === 0) {
    size = src.size - offset;
  }
  if (size < headerSize) throw corrupt(src.label, `box "${type}" at byte ${offset} claims ${size} bytes`);
  return { type, start: offset, headerSize, end: offset + size };
}

/**
 * Reads a whole top-level box into memory (one bounded read of its size); offsets inside the
 * result are relative to it. `readAhead` as in IndexSource.bytes.
 */
export async function loadBox(src: IndexSource, box: BoxHeader, readAhead?: number): Promise<{ buf: Buffer; box: BoxHeader }> {
  if (box.end > src.size) throw truncated(src.label, `"${box.type}" box`, box.end, src.size);
  const buf = await src.exact(box.start, box.end - box.start, `"${box.type}" box`, readAhead);
  return { buf, box: { ...box, start: 0, end: box.end - box.start } };
}
