// Fetches the keyframes an index chose (one bounded read each; a keyframe chosen for several
// times is read once) and turns each into a lone Annex-B access unit.
import { CachedReader } from '../ranged/cached-reader.js';
import type { RangeReader } from '../ranged/range-reader.js';
import { toAnnexB } from './annexb.js';
import { truncated } from './index-source.js';
import type { IndexedCodec, KeyframeIndex, KeyframeSample } from './types.js';

export interface KeyframeUnit {
  sample: KeyframeSample;
  codec: IndexedCodec;
  /** Parameter sets + the keyframe's NALs, start-code framed. */
  annexB: Buffer;
}

/** One unit per entry of `index.keyframes`, in the same order. */
export async function readKeyframes(reader: RangeReader, index: KeyframeIndex, signal?: AbortSignal): Promise<KeyframeUnit[]> {
  const byOffset = new Map<number, Buffer>();
  const out: KeyframeUnit[] = [];
  for (const sample of index.keyframes) {
    let unit = byOffset.get(sample.offset);
    if (!unit) {
      // Exactly the sample: read-ahead past a keyframe would only fetch media nobody decodes.
      const raw = reader instanceof CachedReader ? await reader.readWith(sample.offset, sample.size, 0, signal) : await reader.read(sample.offset, sample.size, signal);
      if (raw.length < sample.size) throw truncated(reader.label, `keyframe at ${sample.time.toFixed(3)} s`, sample.offset + sample.size, reader.size);
      unit = toAnnexB(raw, { codec: index.codec, nalLengthSize: index.nalLengthSize, parameterSets: index.parameterSets, where: `${sample.time.toFixed(3)} s of ${reader.label}` });
      byOffset.set(sample.offset, unit);
    }
    out.push({ sample, codec: index.codec, annexB: unit });
  }
  return out;
}
