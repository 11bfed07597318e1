// Fragmented MP4 boxes, parsed from memory (ISO/IEC 14496-12):
//   sidx (§8.16.3) a segment index: timescale, earliest presentation time, first_offset, and per
//        reference (1-bit type, 31-bit size, duration, SAP bits). Offsets count from the end of sidx.
//   moof/traf: tfhd (§8.8.7, defaults and base offset), tfdt (§8.8.12, base decode time) and trun
//        (§8.8.8, per-sample duration/size/flags/composition offset, optional data offset).
// Sample flags (§8.8.3.1): bit 16 = sample_is_non_sync_sample, bits 24-25 = sample_depends_on.
// A sample is a keyframe as ffmpeg's mov demuxer decides it: neither non-sync nor "depends on
// others" (MOV_FRAG_SAMPLE_FLAG_IS_NON_SYNC | MOV_FRAG_SAMPLE_FLAG_DEPENDS_YES).
import { childBoxes, fullBox, u64, type BoxHeader } from './mp4-boxes.js';
import type { TrexDefaults } from './mp4-moov.js';

const NON_SYNC = 0x0001_0000;
const DEPENDS_YES = 0x0100_0000;

export interface SidxRef {
  /** File offset of the referenced bytes (a moof, or a nested sidx when `nested`). */
  offset: number;
  size: number;
  /** Earliest presentation time, media ticks of the sidx timescale, before the edit shift. */
  time: number;
  duration: number;
  nested: boolean;
}

export interface Sidx {
  referenceId: number;
  timescale: number;
  refs: SidxRef[];
}

/** `buf` holds the sidx box alone (as loadBox returns it); `fileOffset` is where it starts in the file. */
export function parseSidx(buf: Buffer, box: BoxHeader, fileOffset: number): Sidx {
  const { version, body } = fullBox(buf, box);
  const referenceId = buf.readUInt32BE(body);
  const timescale = buf.readUInt32BE(body + 4);
  let p = body + 8;
  const ept = version === 0 ? buf.readUInt32BE(p) : u64(buf, p);
  const firstOffset = version === 0 ? buf.readUInt32BE(p + 4) : u64(buf, p + 8);
  p += version === 0 ? 8 : 16;
  const count = buf.readUInt16BE(p + 2);
  p += 4;
  const refs: SidxRef[] = [];
  let offset = fileOffset + box.end + firstOffset;
  let time = ept;
  for (let i = 0; i < count && p + 12 <= box.end; i++, p += 12) {
    const word = buf.readUInt32BE(p);
    const size = word & 0x7fff_ffff;
    const duration = buf.readUInt32BE(p + 4);
    refs.push({ offset, size, time, duration, nested: word >>> 31 === 1 });
    offset += size;
    time += duration;
  }
  return { referenceId, timescale, refs };
}

export interface FragSample {
  dts: number;
  /** dts + composition offset, before the edit shift. */
  pts: number;
  offset: number;
  size: number;
  key: boolean;
}

/**
 * The samples of track `trackId` in a moof held in `buf` (starting at buf index 0, at file
 * offset `moofOffset`). `startDts` is used when a traf has no tfdt (decode time carries on from
 * the previous fragment). Returns null when the moof has no traf for the track.
 */
export function parseMoof(buf: Buffer, moof: BoxHeader, moofOffset: number, trackId: number, trex: TrexDefaults | undefined, startDts: number | null, label: string): { samples: FragSample[]; endDts: number } | null {
  let found = false;
  const samples: FragSample[] = [];
  let dts = startDts ?? 0;
  // Where data continues when neither tfhd nor trun says (ffmpeg's implicit_offset).
  let implicit = moofOffset;
  for (const traf of childBoxes(buf, moof.start + moof.headerSize, moof.end, label)) {
    if (traf.type !== 'traf') continue;
    const boxes = [...childBoxes(buf, traf.start + traf.headerSize, traf.end, label)];
    const tfhd = boxes.find((b) => b.type === 'tfhd');
    if (!tfhd) continue;
    const th = fullBox(buf, tfhd);
    const id = buf.readUInt32BE(th.body);
    let p = th.body + 4;
    const next32 = (): number => {
      p += 4;
      return buf.readUInt32BE(p - 4);
    };
    let base = implicit;
    if (th.flags & 0x01) {
      base = u64(buf, p);
      p += 8;
    } else if (th.flags & 0x20000) base = moofOffset;
    if (th.flags & 0x02) p += 4;
    const defDuration = th.flags & 0x08 ? next32() : (trex?.duration ?? 0);
    const defSize = th.flags & 0x10 ? next32() : (trex?.size ?? 0);
    const defFlags = th.flags & 0x20 ? next32() : (trex?.flags ?? 0);
    const mine = id === trackId;
    const tfdt = boxes.find((b) => b.type === 'tfdt');
    if (mine && tfdt) {
      const td = fullBox(buf, tfdt);
      dts = td.version === 1 ? u64(buf, td.body) : buf.readUInt32BE(td.body);
    }
    let dataAt = base;
    for (const trun of boxes) {
      if (trun.type !== 'trun') continue;
      const tr = fullBox(buf, trun);
      const count = buf.readUInt32BE(tr.body);
      let q = tr.body + 4;
      if (tr.flags & 0x01) {
        dataAt = base + buf.readInt32BE(q);
        q += 4;
      }
      let firstFlags: number | null = null;
      if (tr.flags & 0x04) {
        firstFlags = buf.readUInt32BE(q);
        q += 4;
      }
      const each = [0x100, 0x200, 0x400, 0x800].filter((f) => tr.flags & f).length * 4;
      if (q + count * each > trun.end) throw new RangeError(`trun lists ${count} samples but is too short`);
      for (let i = 0; i < count; i++, q += each) {
        let r = q;
        const field = (): number => {
          r += 4;
          return buf.readUInt32BE(r - 4);
        };
        const duration = tr.flags & 0x100 ? field() : defDuration;
        const size = tr.flags & 0x200 ? field() : defSize;
        const sflags = tr.flags & 0x400 ? field() : i === 0 && firstFlags !== null ? firstFlags : defFlags;
        // Signed for version 1, and ffmpeg reads version 0 as signed too.
        const cto = tr.flags & 0x800 ? buf.readInt32BE(r) : 0;
        if (mine) samples.push({ dts, pts: dts + cto, offset: dataAt, size, key: (sflags & (NON_SYNC | DEPENDS_YES)) === 0 });
        if (mine) dts += duration;
        dataAt += size;
      }
    }
    implicit = dataAt;
    found ||= mine;
  }
  return found ? { samples, endDts: dts } : null;
}
