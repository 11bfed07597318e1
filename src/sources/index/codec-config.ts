// Decoder configuration records → Annex-B parameter sets. Both records are the same in MP4
// (avcC/hvcC boxes) and Matroska (CodecPrivate):
//   AVCDecoderConfigurationRecord  (ISO/IEC 14496-15 §5.3.3): version, profile, compat, level,
//     6 bits reserved + lengthSizeMinusOne, 3 bits reserved + numSPS, SPS (16-bit length each),
//     numPPS, PPS (16-bit length each). Later high-profile fields are not needed to decode.
//   HEVCDecoderConfigurationRecord (§8.3.3): 21 bytes of profile/tier/level/format fields,
//     byte 21 = … + lengthSizeMinusOne (2 low bits), byte 22 = numOfArrays, then per array:
//     1 byte (completeness, NAL type), 16-bit numNalus, NALs with 16-bit lengths.
import type { IndexedCodec } from './types.js';

export interface CodecConfig {
  nalLengthSize: number;
  /** Parameter sets (and SEI) without start codes, in the record's order. */
  nals: Buffer[];
}

export const START_CODE = Buffer.from([0, 0, 0, 1]);

export function annexB(nals: readonly Buffer[]): Buffer {
  return Buffer.concat(nals.flatMap((n) => [START_CODE, n]));
}

function lengthPrefixed(buf: Buffer, pos: number, count: number, out: Buffer[]): number {
  for (let i = 0; i < count; i++) {
    if (pos + 2 > buf.length) throw new RangeError('parameter set length past the end of the record');
    const len = buf.readUInt16BE(pos);
    if (pos + 2 + len > buf.length) throw new RangeError('parameter set past the end of the record');
    if (len > 0) out.push(Buffer.from(buf.subarray(pos + 2, pos + 2 + len)));
    pos += 2 + len;
  }
  return pos;
}

export function parseAvcC(buf: Buffer): CodecConfig {
  // An empty avcC occurs in the wild with Annex-B samples (corpus bad_02): nothing to add.
  if (buf.length < 7) return { nalLengthSize: 0, nals: [] };
  const nalLengthSize = (buf[4]! & 3) + 1;
  const nals: Buffer[] = [];
  let pos = lengthPrefixed(buf, 6, buf[5]! & 0x1f, nals);
  if (pos < buf.length) pos = lengthPrefixed(buf, pos + 1, buf[pos]!, nals);
  return { nalLengthSize, nals };
}

export function parseHvcC(buf: Buffer): CodecConfig {
  if (buf.length < 23) return { nalLengthSize: 0, nals: [] };
  const nalLengthSize = (buf[21]! & 3) + 1;
  const arrays = buf[22]!;
  const nals: Buffer[] = [];
  let pos = 23;
  for (let a = 0; a < arrays && pos + 3 <= buf.length; a++) {
    pos = lengthPrefixed(buf, pos + 3, buf.readUInt16BE(pos + 1), nals);
  }
  return { nalLengthSize, nals };
}

export function parseCodecConfig(codec: IndexedCodec, buf: Buffer): CodecConfig {
  return codec === 'h264' ? parseAvcC(buf) : parseHvcC(buf);
}

/** NAL unit type of a NAL (header byte(s) included). */
export function nalType(codec: IndexedCodec, nal: Buffer): number {
  const b = nal[0] ?? 0;
  return codec === 'h264' ? b & 0x1f : (b >> 1) & 0x3f;
}
