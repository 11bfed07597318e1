import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyframeStats, MAX_KEYFRAME_TIMES, readKeyframes } from '../../src/media/keyframes.js';
import { readPackets, type PacketTimeline } from '../../src/media/packets.js';
import { frameTiming, readTiming } from '../../src/media/timing.js';
import { VidfleetError } from '../../src/protocol/index.js';
import { makeClip, makeTextFile } from '../helpers/clips.js';
import { makeFixedGopClip, makeVfrClip } from '../helpers/probe-clips.js';
import { HAVE_REAL_MEDIA, realMediaFiles } from '../helpers/shared-media.js';

type Packet = [pts: number | null, dts: number | null, flags?: string];

function timeline(packets: Packet[], den = 1000, startTime = 0): PacketTimeline {
  return {
    stream: 0,
    timeBase: { num: 1, den },
    startTime,
    pts: packets.map(([p]) => p ?? NaN),
    dts: packets.map(([, d]) => d ?? NaN),
    key: packets.map(([, , f]) => (f ?? '').includes('K')),
    discard: packets.map(([, , f]) => (f ?? '').includes('D')),
  };
}
/** Packets at the given pts (dts = pts), a keyframe every `gop` packets. */
const evenly = (pts: number[], gop = Infinity): PacketTimeline => timeline(pts.map((p, i) => [p, p, i % gop === 0 ? 'K' : '']));
/** Timestamps from durations. */
const stamps = (durations: number[]): number[] => durations.reduce<number[]>((ts, d) => [...ts, ts[ts.length - 1]! + d], [0]);

describe('keyframeStats (pure)', () => {
  it('lists keyframe times relative to the container start and summarises the intervals', () => {
    const k = keyframeStats(timeline([[1000, 1000, 'K'], [1040, 1040], [1080, 1080, 'K'], [1120, 1120], [1160, 1160], [1200, 1200, 'K']], 1000, 1));
    expect(k).toMatchObject({ count: 3, packets: 6, times: [0, 0.08, 0.2], timesTruncated: false, fixedInterval: false, closedGop: true, leadingPictures: 0 });
    expect(k.intervalFrames).toEqual({ min: 2, max: 3, mean: 2.5, median: 2.5 });
    expect(k.intervalSeconds).toEqual({ min: 0.08, max: 0.12, mean: 0.1, median: 0.1 });
  });

  it('calls intervals fixed only when there are two or more, all the same length', () => {
    expect(keyframeStats(evenly([0, 1, 2, 3, 4, 5], 2)).fixedInterval).toBe(true);
    expect(keyframeStats(evenly([0, 1, 2, 3], 2)).fixedInterval).toBeNull();
    const single = keyframeStats(evenly([0, 1, 2]));
    expect(single).toMatchObject({ count: 1, intervalFrames: null, intervalSeconds: null, fixedInterval: null });
  });

  it('counts leading pictures (decoded after a keyframe, shown before it) as an open-GOP hint', () => {
    // decode order I0 P3 B1 B2 | I6 B4 B5 P9: B4 and B5 display before I6.
    const k = keyframeStats(timeline([[0, 0, 'K'], [3, 1], [1, 2], [2, 3], [6, 4, 'K'], [4, 5], [5, 6], [9, 7]]));
    expect(k).toMatchObject({ leadingPictures: 2, closedGop: false, count: 2 });
    expect(k.intervalFrames?.median).toBe(4);
  });

  it('falls back to decode times when keyframes carry no pts (MXF) and then cannot judge the GOP', () => {
    const k = keyframeStats(timeline([[null, 0, 'K'], [2, 1], [3, 2], [null, 3, 'K'], [5, 4]], 25));
    expect(k).toMatchObject({ times: [0, 0.12], closedGop: null, count: 2 });
  });

  it('counts pre-roll keyframes an edit list hides, with a negative time', () => {
    const k = keyframeStats(timeline([[-10, -10, 'KD'], [-5, -5, 'D'], [0, 0], [5, 5, 'K']], 100));
    expect(k).toMatchObject({ count: 2, times: [-0.1, 0.05] });
  });

  it(`lists at most ${MAX_KEYFRAME_TIMES} keyframe times but counts them all`, () => {
    const k = keyframeStats(evenly(Array.from({ length: MAX_KEYFRAME_TIMES + 5 }, (_, i) => i), 1));
    expect(k).toMatchObject({ count: MAX_KEYFRAME_TIMES + 5, timesTruncated: true });
    expect(k.times).toHaveLength(MAX_KEYFRAME_TIMES);
  });
});

describe('frameTiming (pure)', () => {
  it('one-tick rounding jitter is constant frame rate', () => {
    // iPhone at 1/600 s: 20 and 21 ticks for 33.3 ms frames.
    const t = frameTiming(timeline(stamps([20, 20, 21, 20, 20, 21, 20, 20]).map((p) => [p, p]), 600));
    expect(t).toMatchObject({ vfr: false, irregular: 0, gaps: 0, frames: 9, nominalFps: 30, distinctDurations: 2, timeBase: '1/600' });
    expect(t.durations).toEqual([{ seconds: 0.033333, count: 6 }, { seconds: 0.035, count: 2 }]);
  });

  it('phone capture-clock jitter within 5 % is constant frame rate', () => {
    const t = frameTiming(timeline(stamps([1499, 1552, 1445, 1499, 1498, 1552, 1446, 1499]).map((p) => [p, p]), 90000));
    expect(t).toMatchObject({ vfr: false, irregular: 0 });
    expect(t.toleranceSeconds).toBeCloseTo((0.05 * 1499) / 90000, 6);
  });

  it('whole-multiple gaps are dropped frames, not VFR; a single odd duration is a glitch', () => {
    expect(frameTiming(evenly(stamps([...Array(30).fill(3600), 7200, 10800, ...Array(20).fill(3600)])))).toMatchObject({ gaps: 2, irregular: 0, vfr: false, minFps: 0.093 });
    expect(frameTiming(evenly(stamps([...Array(25).fill(2997), 4649])))).toMatchObject({ irregular: 1, vfr: false });
  });

  it('two frame rates mixed is VFR', () => {
    const t = frameTiming(timeline(stamps([...Array(20).fill(3000), ...Array(10).fill(3750)]).map((p) => [p, p]), 90000));
    expect(t).toMatchObject({ vfr: true, irregular: 10, nominalFps: 30, minFps: 24, maxFps: 30 });
  });

  it('sorts presentation times (B-frames), skips edit-list discards and VP9 hidden packets', () => {
    const bframes = frameTiming(timeline([[0, -2], [3, -1], [1, 0], [2, 1]]));
    expect(bframes).toMatchObject({ frames: 4, nominalFps: 1000 });
    const vp9 = frameTiming(evenly([0, 41, 42, 83, 125, 125, 167]));
    expect(vp9).toMatchObject({ frames: 5, hiddenPackets: 2, vfr: false });
    const edit = frameTiming(timeline([[-40, -40, 'KD'], [-20, -20, 'D'], [0, 0], [20, 20], [40, 40]]));
    expect(edit).toMatchObject({ frames: 3, nominalFps: 50 });
  });

  it('uses decode times when presentation times are missing, and copes with fewer than two frames', () => {
    expect(frameTiming(timeline([[null, 0, 'K'], [2, 1], [3, 2], [null, 3]], 25))).toMatchObject({ fromDecodeTimes: true, frames: 4, nominalFps: 25 });
    expect(frameTiming(evenly([0]))).toMatchObject({ frames: 1, nominalFps: null, meanFps: null, vfr: false, durations: [] });
  });
});

describe('on synthetic clips', () => {
  it('a clip encoded with a fixed GOP of 25 has a keyframe every second exactly', async () => {
    const k = await readKeyframes(await makeFixedGopClip());
    expect(k).toMatchObject({ count: 4, packets: 100, times: [0, 1, 2, 3], fixedInterval: true, closedGop: true, leadingPictures: 0 });
    expect(k.intervalFrames).toEqual({ min: 25, max: 25, mean: 25, median: 25 });
    expect(k.intervalSeconds).toEqual({ min: 1, max: 1, mean: 1, median: 1 });
  });

  it('a constant-rate clip is not VFR', async () => {
    const t = await readTiming(await makeClip({ fps: 25, duration: 2 }));
    expect(t).toMatchObject({ vfr: false, frames: 50, nominalFps: 25, meanFps: 25, irregular: 0, gaps: 0, distinctDurations: 1 });
  });

  it('a clip that changes from 30 to 12 fps is VFR', async () => {
    const t = await readTiming(await makeVfrClip());
    expect(t).toMatchObject({ vfr: true, frames: 42, irregular: 11, gaps: 0, nominalFps: 30, timeBase: '1/90000' });
    // The encoder rounds some stamps by a tick either way.
    expect(t.minFps).toBeCloseTo(12, 1);
    expect(t.maxFps).toBeCloseTo(30, 1);
  });

  it('one pass serves both analyses and can be pointed at a stream', async () => {
    const packets = await readPackets(await makeFixedGopClip(), { stream: 0 });
    expect(keyframeStats(packets).count).toBe(4);
    expect(frameTiming(packets).frames).toBe(100);
  });

  it('a file with no video stream is NOT_A_VIDEO; a text file fails with a catalog error', async () => {
    const audio = await readKeyframes(await makeClip({ video: false, audio: true })).catch((e: unknown) => e);
    expect(audio).toBeInstanceOf(VidfleetError);
    expect((audio as VidfleetError).code).toBe('NOT_A_VIDEO');
    const text = await readTiming(await makeTextFile('list.txt')).catch((e: unknown) => e);
    expect((text as VidfleetError).code).toBe('NOT_A_VIDEO');
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('on the real-world corpus (expectations from MANIFEST.md)', () => {
  const { good } = realMediaFiles();
  const file = (prefix: string): string => good.find((f) => basename(f).startsWith(prefix)) ?? prefix;
  const passes = new Map<string, Promise<PacketTimeline>>();
  const packets = (prefix: string): Promise<PacketTimeline> => {
    if (!passes.has(prefix)) passes.set(prefix, readPackets(file(prefix)));
    return passes.get(prefix)!;
  };

  // [prefix, keyframes, packets, GOP frames min/median/max, GOP seconds min/median/max]
  const gops: Array<[string, number, number, [number, number, number], [number, number, number]]> = [
    ['01_', 7, 377, [60, 60, 60], [4.8, 4.8, 4.8]],
    ['02_', 5, 720, [35, 134, 250], [1.458, 5.583, 10.417]],
    ['03_', 3, 66, [30, 30, 30], [1.0, 1.001, 1.002]],
    ['05_', 9, 58, [7, 7, 7], [0.233, 0.234, 0.358]],
    ['06_', 3, 86, [23, 27.5, 32], [1.067, 1.067, 1.068]],
    ['10_', 5, 120, [24, 24, 24], [1, 1, 1]],
    ['12_', 8, 745, [101, 101, 101], [3.465, 3.765, 8.264]],
    ['15_', 5, 120, [24, 24, 24], [1, 1, 1]],
    ['17_', 3, 80, [30, 38, 46], [1.126, 1.439, 1.752]],
    ['19_', 5, 75, [15, 15, 15], [0.6, 0.6, 0.6]],
    ['21_', 23, 266, [10, 12, 12], [0.4, 0.48, 0.48]],
    ['22_', 2, 101, [100, 100, 100], [10, 10, 10]],
    ['23_', 4, 63, [15, 17, 30], [2.001, 2.008, 3.146]],
    ['25_', 140, 1394, [10, 10, 10], [1, 1, 1]],
  ];
  it.each(gops)('%s: %i keyframes in %i packets, GOP as MANIFEST says', async (prefix, count, total, frames, seconds) => {
    const k = keyframeStats(await packets(prefix));
    expect(k).toMatchObject({ count, packets: total });
    expect([k.intervalFrames?.min, k.intervalFrames?.median, k.intervalFrames?.max]).toEqual(frames);
    const s = k.intervalSeconds!;
    [s.min, s.median, s.max].forEach((v, i) => expect(v).toBeCloseTo(seconds[i]!, 2));
  });

  it.each(['04_', '07_', '08_', '09_', '11_', '13_', '16_', '18_', '20_', '24_'])('%s: a single keyframe, so no interval', async (prefix) => {
    expect(keyframeStats(await packets(prefix))).toMatchObject({ count: 1, intervalFrames: null, intervalSeconds: null, fixedInterval: null });
  });

  it('fixed GOPs (01, 25, the VFR MediaRecorder 12 in frames) against scene-cut ones (02, 23)', async () => {
    for (const p of ['01_', '03_', '05_', '12_', '25_']) expect(keyframeStats(await packets(p)).fixedInterval, p).toBe(true);
    for (const p of ['02_', '17_', '21_', '23_']) expect(keyframeStats(await packets(p)).fixedInterval, p).toBe(false);
  });

  it('GOP hint: x264 closed GOPs are closed; MXF (no pts on references) cannot tell; HEVC 06 and the mid-stream TS 19 have leading pictures', async () => {
    for (const p of ['01_', '02_', '25_']) expect(keyframeStats(await packets(p)).closedGop, p).toBe(true);
    expect(keyframeStats(await packets('21_')).closedGop).toBeNull();
    expect(keyframeStats(await packets('06_'))).toMatchObject({ closedGop: false, leadingPictures: 6 });
    expect(keyframeStats(await packets('19_'))).toMatchObject({ closedGop: false, leadingPictures: 8 });
    expect(keyframeStats(await packets('06_')).times[0]).toBeCloseTo(-0.467, 3); // pre-roll the edit list hides
  });

  it.each(['05_', '12_', '23_'])('%s is VFR', async (prefix) => {
    expect(frameTiming(await packets(prefix)).vfr).toBe(true);
  });

  it.each(['01_', '02_', '03_', '04_', '06_', '07_', '08_', '09_', '10_', '11_', '13_', '14_', '15_', '16_', '17_', '18_', '19_', '20_', '21_', '22_', '24_', '25_'])(
    '%s is constant frame rate (jitter and gaps allowed)',
    async (prefix) => {
      expect(frameTiming(await packets(prefix)).vfr).toBe(false);
    },
  );

  // Frames MANIFEST counted by decoding. 19 is left out: it has 75 frames with timestamps, but
  // its first 14 cannot be decoded (the capture starts mid-stream).
  const decoded: Array<[string, number]> = [
    ['01_', 377], ['02_', 720], ['03_', 66], ['04_', 18], ['05_', 58], ['06_', 77], ['07_', 63], ['08_', 28], ['09_', 127], ['10_', 120],
    ['11_', 30], ['12_', 745], ['13_', 30], ['15_', 120], ['16_', 30], ['17_', 72], ['18_', 234], ['20_', 5], ['21_', 266], ['22_', 101], ['23_', 63], ['24_', 5], ['25_', 1394],
  ];
  it.each(decoded)('%s: %i frames shown, as many as a decoder outputs', async (prefix, frames) => {
    expect(frameTiming(await packets(prefix)).frames).toBe(frames);
  });

  it('reports the details behind the verdicts: 04 jitter, 08 and 19 gaps, 17 hidden frames, 21 decode times, 05 rates', async () => {
    expect(frameTiming(await packets('04_'))).toMatchObject({ irregular: 0, gaps: 0, nominalFps: 60.04 });
    expect(frameTiming(await packets('08_'))).toMatchObject({ gaps: 1, irregular: 1 });
    expect(frameTiming(await packets('19_'))).toMatchObject({ gaps: 2, irregular: 0, nominalFps: 25 });
    expect(frameTiming(await packets('17_'))).toMatchObject({ hiddenPackets: 8 });
    expect(frameTiming(await packets('21_'))).toMatchObject({ fromDecodeTimes: true, nominalFps: 25 });
    const pixel = frameTiming(await packets('05_'));
    expect(pixel).toMatchObject({ irregular: 16, nominalFps: 29.99 });
    expect(pixel.durations.map((d) => d.seconds)).toEqual(expect.arrayContaining([0.033344, 0.041678]));
  });
});
