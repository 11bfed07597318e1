// A keyframe sample → one Annex-B access unit that decodes alone: the NALs get start codes in
// place of their length prefixes, and the track's parameter sets go in front (after an access
// unit delimiter, which must stay first). Samples that already carry their own parameter sets
// (avc3/hev1, or Annex-B samples in avc1 with an empty avcC, corpus bad_02) keep them: they
// come after the configured ones, so where the two differ the sample's own win.
import { VidfleetError } from '../../protocol/index.js';
import { nalType, START_CODE } from './codec-config.js';
import type { IndexedCodec } from './types.js';

const AUD = { h264: 9, hevc: 35 } as const;

/** Splits length-prefixed NALs; null if the prefixes do not tile the sample exactly. */
function splitLengthPrefixed(sample: Buffer, lengthSize: number): Buffer[] | null {
  const nals: Buffer[] = [];
  let pos = 0;
  while (pos < sample.length) {
    if (pos + lengthSize > sample.length) return null;
    const len = sample.readUIntBE(pos, lengthSize);
    pos += lengthSize;
    if (len === 0 || pos + len > sample.length) return null;
    nals.push(sample.subarray(pos, pos + len));
    pos += len;
  }
  return nals;
}

/** Splits on 00 00 01 / 00 00 00 01 start codes; trailing zero bytes of a NAL are dropped. */
export function splitAnnexB(data: Buffer): Buffer[] {
  const starts: Array<{ at: number; len: number }> = [];
  for (let i = 0; i + 2 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      starts.push({ at: i, len: 3 });
      i += 2;
    }
  }
  const nals: Buffer[] = [];
  for (let k = 0; k < starts.length; k++) {
    let end = k + 1 < starts.length ? starts[k + 1]!.at : data.length;
    const begin = starts[k]!.at + starts[k]!.len;
    while (end > begin && data[end - 1] === 0) end--;
    if (end > begin) nals.push(data.subarray(begin, end));
  }
  return nals;
}

function startsWithStartCode(b: Buffer): boolean {
  return (b[0] === 0 && b[1] === 0 && b[2] === 1) || (b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 1);
}

/** The NAL units of one sample, whatever the framing. */
export function sampleNals(sample: Buffer, nalLengthSize: number, where: string): Buffer[] {
  // A 4-byte prefix of 00 00 00 01 would be a 1-byte NAL: no real stream has one, so a sample
  // starting like that is Annex-B already (the length parse is tried second for 00 00 01 xx).
  if (nalLengthSize === 0 || (nalLengthSize === 4 && startsWithStartCode(sample) && sample.readUInt32BE(0) === 1)) return splitAnnexB(sample);
  const nals = splitLengthPrefixed(sample, nalLengthSize);
  if (nals) return nals;
  if (startsWithStartCode(sample)) return splitAnnexB(sample);
  throw new VidfleetError('INPUT_CORRUPT', `The keyframe at ${where} is damaged: its NAL length prefixes do not add up to its ${sample.length} bytes.`);
}

export function toAnnexB(sample: Buffer, opts: { codec: IndexedCodec; nalLengthSize: number; parameterSets: Buffer; where: string }): Buffer {
  const nals = sampleNals(sample, opts.nalLengthSize, opts.where);
  const aud = nals.length && nalType(opts.codec, nals[0]!) === AUD[opts.codec] ? [START_CODE, nals.shift()!] : [];
  return Buffer.concat([...aud, opts.parameterSets, ...nals.flatMap((n) => [START_CODE, n])]);
}
