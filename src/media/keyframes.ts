// Where a video's keyframes are and how regularly they come, from packet flags alone (no
// decoding). `keyframeStats` is pure so its rules are unit-tested; `readKeyframes` is what a
// chunked transcoder calls to pick split points.
import type { ProbeKeyframes } from '../protocol/index.js';
import { readPackets, tickSeconds, type PacketOptions, type PacketTimeline } from './packets.js';
import { summarise } from './stats.js';

/** Keyframe times listed in a report; a two-hour film with 1 s GOPs has 7,200. */
export const MAX_KEYFRAME_TIMES = 10_000;

const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;

export function keyframeStats(t: PacketTimeline): ProbeKeyframes {
  const tick = tickSeconds(t);
  const n = t.key.length;
  // Some containers (MXF, MPEG-2 in places) stamp only B-frames with a pts: fall back to dts,
  // which is off by the reorder delay but spaced like the pts.
  const at = (i: number): number => (Number.isNaN(t.pts[i]!) ? t.dts[i]! : t.pts[i]!);
  const keyIndexes: number[] = [];
  for (let i = 0; i < n; i++) if (t.key[i]) keyIndexes.push(i);

  const times: number[] = [];
  for (const i of keyIndexes) {
    if (times.length === MAX_KEYFRAME_TIMES) break;
    const ts = at(i);
    if (!Number.isNaN(ts)) times.push(round6(ts * tick - t.startTime));
  }

  const seconds: number[] = [];
  const frames: number[] = [];
  for (let k = 1; k < keyIndexes.length; k++) {
    const a = keyIndexes[k - 1]!;
    const b = keyIndexes[k]!;
    frames.push(b - a);
    const dt = (at(b) - at(a)) * tick;
    if (Number.isFinite(dt)) seconds.push(dt);
  }

  // Leading pictures: after a keyframe in decode order, displayed before it.
  let leading = 0;
  let knownOrder = true;
  let keyPts = NaN;
  for (let i = 0; i < n; i++) {
    const pts = t.pts[i]!;
    if (t.key[i]) {
      keyPts = pts;
      if (Number.isNaN(pts)) knownOrder = false;
    } else if (!Number.isNaN(keyPts) && pts < keyPts) {
      leading++;
    }
  }

  return {
    stream: t.stream,
    count: keyIndexes.length,
    packets: n,
    times,
    timesTruncated: keyIndexes.length > MAX_KEYFRAME_TIMES,
    intervalSeconds: summarise(seconds),
    intervalFrames: summarise(frames, 3),
    fixedInterval: frames.length < 2 ? null : frames.every((f) => f === frames[0]),
    leadingPictures: leading,
    closedGop: leading > 0 ? false : knownOrder && keyIndexes.length > 0 ? true : null,
  };
}

/** Keyframes of a video stream (default: the first that is not cover art). Reads the whole file, decodes nothing. */
export async function readKeyframes(input: string, options: PacketOptions = {}): Promise<ProbeKeyframes> {
  return keyframeStats(await readPackets(input, options));
}
