// Frame durations of a video from its packet timestamps, and whether it is variable frame rate.
//
// The tolerance comes from the real-world corpus. Timestamp rounding makes durations wobble by
// one tick (iPhone 33.33/35.0 ms at 1/600 s, WebM 33/34 ms at 1/1000 s), and phone capture
// clocks wobble by more: the Android 4K60 clip has 16.06-17.24 ms around 16.66 ms, ±54 ticks of
// 1/90000 s or 3.6 %. So a duration is nominal within max(1 tick, 5 %) of the median. A whole
// multiple of the median (a dropped frame: 08 and 19 have two such gaps) is a gap, not VFR. A
// stream is VFR when more than 5 % of its durations, and at least two, are neither: the Pixel
// motion photo has 16 of 57 (28 %), the Chrome MediaRecorder file 119 of 744 (16 %), the screen
// recording 53 of 62; the one odd duration of 08 (1 of 27) stays CFR with a glitch.
import type { FrameDurationCount, ProbeTiming } from '../protocol/index.js';
import { readPackets, tickSeconds, type PacketOptions, type PacketTimeline } from './packets.js';
import { medianOfSorted } from './stats.js';

export const VFR_RELATIVE_TOLERANCE = 0.05;
export const VFR_IRREGULAR_SHARE = 0.05;
const MAX_LISTED_DURATIONS = 20;

const round = (v: number, digits: number): number => Number(v.toFixed(digits));
const fps = (seconds: number): number | null => (seconds > 0 ? round(1 / seconds, 3) : null);

/** Display timestamps (ticks, ascending) of the frames a player shows, and how many packets were not frames. */
function shownTimestamps(t: PacketTimeline): { ts: number[]; hidden: number; fromDecodeTimes: boolean } {
  const shown: number[] = [];
  const fallback: number[] = [];
  let missingPts = false;
  for (let i = 0; i < t.key.length; i++) {
    if (t.discard[i]) continue;
    if (Number.isNaN(t.pts[i]!)) missingPts = true;
    shown.push(t.pts[i]!);
    fallback.push(t.dts[i]!);
  }
  // Without presentation times for every frame, decode times have the same spacing.
  const ts = (missingPts ? fallback : shown).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const deltas = ts.slice(1).map((v, i) => v - ts[i]!);
  const median = medianOfSorted([...deltas].sort((a, b) => a - b));
  // VP8/VP9 in WebM store hidden alt-ref frames as packets stamped 0-1 ms from a shown frame.
  // With frames ten or more ticks apart such a packet cannot be a frame of its own.
  if (!(median >= 10)) return { ts, hidden: 0, fromDecodeTimes: missingPts };
  const kept: number[] = [];
  let hidden = 0;
  for (const v of ts) {
    if (kept.length && v - kept[kept.length - 1]! <= 1) hidden++;
    else kept.push(v);
  }
  return { ts: kept, hidden, fromDecodeTimes: missingPts };
}

export function frameTiming(t: PacketTimeline): ProbeTiming {
  const tick = tickSeconds(t);
  const { ts, hidden, fromDecodeTimes } = shownTimestamps(t);
  const deltas = ts.slice(1).map((v, i) => v - ts[i]!);
  const sorted = [...deltas].sort((a, b) => a - b);
  const median = medianOfSorted(sorted);
  const tolerance = Math.max(1, VFR_RELATIVE_TOLERANCE * median);

  let gaps = 0;
  let irregular = 0;
  const counts = new Map<number, number>();
  for (const d of deltas) {
    counts.set(d, (counts.get(d) ?? 0) + 1);
    if (Math.abs(d - median) <= tolerance) continue;
    const multiple = Math.round(d / median);
    if (multiple >= 2 && Math.abs(d - multiple * median) <= tolerance) gaps++;
    else irregular++;
  }
  const durations: FrameDurationCount[] = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, MAX_LISTED_DURATIONS)
    .map(([d, count]) => ({ seconds: round(d * tick, 6), count }));
  const span = ts.length > 1 ? (ts[ts.length - 1]! - ts[0]!) * tick : 0;

  return {
    stream: t.stream,
    timeBase: `${t.timeBase.num}/${t.timeBase.den}`,
    frames: ts.length,
    hiddenPackets: hidden,
    nominalFps: deltas.length ? fps(median * tick) : null,
    meanFps: span > 0 ? round((ts.length - 1) / span, 3) : null,
    minFps: deltas.length ? fps(sorted[sorted.length - 1]! * tick) : null,
    maxFps: deltas.length ? fps(sorted[0]! * tick) : null,
    durations,
    distinctDurations: counts.size,
    toleranceSeconds: deltas.length ? round(tolerance * tick, 6) : 0,
    gaps,
    irregular,
    vfr: irregular >= 2 && irregular > VFR_IRREGULAR_SHARE * deltas.length,
    fromDecodeTimes,
  };
}

/** Frame timing of a video stream (default: the first that is not cover art). Reads the whole file, decodes nothing. */
export async function readTiming(input: string, options: PacketOptions = {}): Promise<ProbeTiming> {
  return frameTiming(await readPackets(input, options));
}
