// locateKeyframes: which container, then its index parser. Containers the parsers cannot
// index (MPEG-TS, AVI, MXF, FLV …) and codecs they cannot hand to a lone-keyframe decode
// (VP8/VP9/AV1, MPEG-2 …) get INDEX_UNSUPPORTED, so the caller falls back to ffmpeg over a
// byte-budgeted range bridge.
import { VidfleetError } from '../../protocol/index.js';
import type { RangeReader } from '../ranged/range-reader.js';
import { IndexSource, unsupported } from './index-source.js';
import { locateMkv } from './mkv.js';
import { locateMp4 } from './mp4.js';
import type { KeyframeIndex, LocateOptions } from './types.js';

const MP4_FIRST_BOXES = new Set(['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'styp', 'sidx', 'pnot', 'uuid', 'junk', 'meta']);

/** What the first bytes say the file is: an indexable container, or the name of another. */
export function sniffContainer(head: Buffer): 'mp4' | 'mkv' | string {
  if (head.length >= 8 && MP4_FIRST_BOXES.has(head.toString('latin1', 4, 8))) return 'mp4';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return 'mkv';
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF') return head.toString('latin1', 8, 12).trim() === 'AVI' ? 'AVI' : 'RIFF';
  if (head[0] === 0x47 && (head.length < 189 || head[188] === 0x47)) return 'MPEG-TS';
  if (head[4] === 0x47 && (head.length < 197 || head[196] === 0x47)) return 'MPEG-TS (M2TS)';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x000001ba) return 'MPEG-PS';
  if (head.toString('latin1', 0, 3) === 'FLV') return 'FLV';
  if (head.toString('latin1', 0, 4) === 'OggS') return 'Ogg';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x060e2b34) return 'MXF';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x3026b275) return 'ASF/WMV';
  return 'unknown';
}

/**
 * For each time (seconds, in the file's presentation timeline), the keyframe at or before it
 * in the first video track, reading only the container index. Throws INDEX_UNSUPPORTED for
 * what it cannot index, INPUT_CORRUPT for a truncated or damaged index, NOT_A_VIDEO without video.
 */
export async function locateKeyframes(reader: RangeReader, times: readonly number[], options: LocateOptions = {}): Promise<KeyframeIndex> {
  const src = new IndexSource(reader, options.signal, options.maxIndexBytes ?? 128 * 1024 * 1024);
  if (src.size === 0) throw new VidfleetError('INPUT_CORRUPT', `${src.label} is empty (0 bytes).`);
  for (const t of times) if (!Number.isFinite(t) || t < 0) throw new VidfleetError('INVALID_PARAMS', `Screenshot time ${t} is not a number of seconds ≥ 0.`);
  const head = await src.bytes(0, 512);
  const kind = sniffContainer(head);
  try {
    if (kind === 'mp4') return { ...(await locateMp4(src, times)), indexBytes: src.needed.total() };
    if (kind === 'mkv') return { ...(await locateMkv(src, times)), indexBytes: src.needed.total() };
  } catch (err) {
    if (err instanceof VidfleetError || options.signal?.aborted) throw err;
    // A count or offset inside a box pointing past its end: the index is damaged.
    if (err instanceof RangeError) throw new VidfleetError('INPUT_CORRUPT', `${src.label} is damaged: its ${kind === 'mkv' ? 'Matroska' : 'MP4'} index could not be parsed (${err.message}).`, { cause: err });
    throw err;
  }
  throw unsupported(src.label, kind === 'unknown' ? 'its container is not MP4, MOV or Matroska' : `it is ${kind}, which has no index this reader understands`, 'container');
}
