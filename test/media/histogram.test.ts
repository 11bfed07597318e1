import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistogramAccumulator, LINEAR_FRAMES_PER_SAMPLE, planSamples, readHistogram, SAMPLE_HEIGHT, SAMPLE_WIDTH } from '../../src/media/histogram.js';
import { probeFile } from '../../src/media/probe.js';
import { VidfleetError, type HistogramChannel, type ProbeHistogram } from '../../src/protocol/index.js';
import { makeClip } from '../helpers/clips.js';
import { makeSolidClip } from '../helpers/probe-clips.js';
import { HAVE_REAL_MEDIA, realMediaFiles } from '../helpers/shared-media.js';

const frameOf = (pixels: Array<[number, number, number]>): Uint8Array => Uint8Array.from(pixels.flat());
const sum = (c: HistogramChannel): number => c.bins.reduce((a, b) => a + b, 0);

async function histogramOf(file: string, samples = 10, bins = 32): Promise<ProbeHistogram> {
  return readHistogram(file, await probeFile(file), { samples, bins });
}

describe('HistogramAccumulator (pure)', () => {
  it('bins each channel, normalised, with mean and standard deviation on the 0-255 scale', () => {
    const acc = new HistogramAccumulator();
    acc.addFrame(frameOf([[255, 0, 0], [255, 0, 0]]));
    const r = acc.channel(0, 16);
    expect(r).toEqual({ bins: [...Array(15).fill(0), 1], mean: 255, stddev: 0 });
    expect(acc.channel(1, 16).bins[0]).toBe(1);
    // Pure red has BT.709 luma 0.2126 * 255 = 54.2 → 54, bin 54 * 16 / 256 = 3.
    expect(acc.channel(3, 16)).toMatchObject({ mean: 54, stddev: 0 });
    expect(acc.channel(3, 16).bins[3]).toBe(1);
  });

  it('spreads over frames: half black, half white has mean 127.5 and stddev 127.5', () => {
    const acc = new HistogramAccumulator();
    acc.addFrame(frameOf([[0, 0, 0]]));
    acc.addFrame(frameOf([[255, 255, 255]]));
    expect(acc.frames).toBe(2);
    const luma = acc.channel(3, 2);
    expect(luma).toEqual({ bins: [0.5, 0.5], mean: 127.5, stddev: 127.5 });
  });

  it('bin i covers values [i*256/bins, (i+1)*256/bins)', () => {
    const acc = new HistogramAccumulator();
    acc.addFrame(frameOf([[85, 0, 0], [86, 0, 0], [170, 0, 0], [171, 0, 0]]));
    expect(acc.channel(0, 3).bins).toEqual([0.25, 0.5, 0.25]);
  });
});

describe('planSamples (pure)', () => {
  it('spreads samples over the middles of equal slices, clear of the last two frames', () => {
    const plan = planSamples(4, { duration: 10.08, frames: 252, frameRate: 25 });
    expect(plan.times).toEqual([1.25, 3.75, 6.25, 8.75]);
    expect(plan.method).toBe('seek');
  });
  it(`decodes a clip of at most ${LINEAR_FRAMES_PER_SAMPLE} frames per sample once instead of seeking`, () => {
    expect(planSamples(10, { duration: 12, frames: LINEAR_FRAMES_PER_SAMPLE * 10, frameRate: 25 }).method).toBe('linear');
    expect(planSamples(10, { duration: 12, frames: LINEAR_FRAMES_PER_SAMPLE * 10 + 1, frameRate: 25 }).method).toBe('seek');
    expect(planSamples(10, { duration: 12, frames: null, frameRate: null }).method).toBe('seek');
  });
  it('takes the first frame when the duration is unknown', () => {
    expect(planSamples(10, { duration: null, frames: null, frameRate: 30 })).toEqual({ method: 'linear', times: [0] });
  });
  it('ignores an implausible frame rate for the end margin', () => {
    expect(planSamples(1, { duration: 2, frames: 2000, frameRate: 1000 }).times).toEqual([1]);
  });
});

describe('readHistogram on synthetic clips', () => {
  it.each([
    ['red', 0, [1, 2]],
    ['blue', 2, [0, 1]],
  ] as const)('a solid %s clip puts its channel in the top bin and the others in the bottom one', async (color, full, empty) => {
    const h = await histogramOf(await makeSolidClip(color), 4, 16);
    expect(h).toMatchObject({ frames: 4, bins: 16, method: 'linear', values: 'coded', hdr: 'sdr', pixelsPerFrame: SAMPLE_WIDTH * SAMPLE_HEIGHT });
    const channels = [h.r, h.g, h.b];
    // YUV 4:2:0 and back does not give exactly 255/0, but stays in the outer bin.
    expect(channels[full]!.bins[15]).toBeGreaterThan(0.99);
    expect(channels[full]!.mean).toBeGreaterThan(240);
    for (const c of empty) {
      expect(channels[c]!.bins[0]).toBeGreaterThan(0.99);
      expect(channels[c]!.mean).toBeLessThan(16);
    }
    for (const c of [h.r, h.g, h.b, h.luma]) expect(sum(c)).toBeCloseTo(1, 4);
  });

  it('seeks once per sample on a longer clip and spreads the samples over it', async () => {
    const h = await histogramOf(await makeClip({ duration: 10, fps: 25 }), 3, 8);
    expect(h).toMatchObject({ method: 'seek', frames: 3, bins: 8 });
    expect(h.times).toHaveLength(3);
    expect(h.times[0]).toBeGreaterThan(1);
    expect(h.times[2]).toBeLessThan(9);
    // testsrc2 is colourful: no channel is a single bin.
    for (const c of [h.r, h.g, h.b, h.luma]) {
      expect(Math.max(...c.bins)).toBeLessThan(0.9);
      expect(c.stddev).toBeGreaterThan(20);
    }
  });

  it('gives the histogram of the stored pixels whatever the display rotation', async () => {
    const plain = await histogramOf(await makeClip({ duration: 2 }), 2, 8);
    const turned = await histogramOf(await makeClip({ duration: 2, rotation: 90 }), 2, 8);
    expect(turned.luma).toEqual(plain.luma);
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('readHistogram on the real-world corpus', () => {
  const { good, bad } = realMediaFiles();
  const file = (prefix: string): string => [...good, ...bad].find((f) => basename(f).startsWith(prefix)) ?? prefix;

  it('25 (139 s, 1 s GOPs): ten seeked samples', async () => {
    const h = await histogramOf(file('25_'));
    expect(h).toMatchObject({ method: 'seek', frames: 10 });
    for (const c of [h.r, h.g, h.b, h.luma]) expect(sum(c)).toBeCloseTo(1, 4);
  });

  it.each([
    ['08_', 'hdr10'],
    ['06_', 'hlg'],
  ])('%s: an HDR source is analysed as coded values and says which signal it was', async (prefix, hdr) => {
    const h = await histogramOf(file(prefix));
    expect(h).toMatchObject({ values: 'coded', hdr, frames: 10 });
  });

  it('20: its five frames are black (Y = 16), so all luma is in the bottom bin', async () => {
    const h = await histogramOf(file('20_'));
    expect(h.luma.bins[0]).toBe(1);
    expect(h.frames).toBeLessThanOrEqual(5);
  });

  it('bad_02: no frame decodes at any sample, which is INPUT_CORRUPT', async () => {
    const err = await histogramOf(file('bad_02')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VidfleetError);
    expect((err as VidfleetError).code).toBe('INPUT_CORRUPT');
    expect((err as VidfleetError).message).toMatch(/No frame .* could be decoded/);
  });
});
