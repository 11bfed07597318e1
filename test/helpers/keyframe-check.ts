// What the keyframe-index tests compare against: ffprobe's keyframe packets (pts of packets
// flagged K on the first video stream) and ffmpeg's own decode of the same frame from the
// whole file, with PSNR between two images from ffmpeg's psnr filter.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { decodeKeyframes } from '../../src/media/keyframe-decode.js';
import { scaleFilter } from '../../src/media/stills.js';
import { CachedReader } from '../../src/sources/ranged/cached-reader.js';
import type { RangeReader } from '../../src/sources/ranged/range-reader.js';
import { locateKeyframes } from '../../src/sources/index/locate.js';
import { readKeyframes } from '../../src/sources/index/keyframe-bytes.js';
import type { KeyframeIndex } from '../../src/sources/index/types.js';

const run = promisify(execFile);
const FFMPEG = process.env.VIDFLEET_FFMPEG || 'ffmpeg';
const FFPROBE = process.env.VIDFLEET_FFPROBE || 'ffprobe';

export interface ProbedKeys {
  /** Keyframe pts (seconds), ascending. */
  keys: number[];
  /** Last video packet pts: the end for files whose header duration is wrong (corpus 11). */
  lastPts: number;
  /** The format's start_time, which ffmpeg's -ss counts from. */
  startTime: number;
}

export async function probeKeys(path: string): Promise<ProbedKeys> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags:format=start_time', '-of', 'json', path], { maxBuffer: 64 * 1024 * 1024 });
  const j = JSON.parse(stdout) as { packets?: Array<{ pts_time?: string; flags?: string }>; format?: { start_time?: string } };
  const packets = (j.packets ?? []).filter((p) => p.pts_time !== undefined);
  const keys = packets.filter((p) => p.flags?.includes('K')).map((p) => Number(p.pts_time)).sort((a, b) => a - b);
  return { keys, lastPts: Math.max(...packets.map((p) => Number(p.pts_time))), startTime: Number(j.format?.start_time ?? 0) };
}

/** ffprobe's answer: the keyframe at or before t, or the first one when t is before all. */
export function expectedKey(keys: readonly number[], t: number): number {
  let best = keys[0]!;
  for (const k of keys) if (k <= t + 1e-6) best = k;
  return best;
}

/** Times spread over a video: its start, 3 points inside, and near its end. */
export function spreadTimes(end: number): number[] {
  return [0, end * 0.27, end * 0.5, end * 0.73, Math.max(0, end - 0.01)].map((t) => Math.round(t * 1000) / 1000);
}

/** The frame ffmpeg shows at `time` (ffprobe pts) from the whole file, through `filter`, as PNG. */
export async function referenceFrame(path: string, time: number, startTime: number, out: string, filter: string): Promise<void> {
  // -ss counts from the format's start time; 50 µs early so float rounding never skips the frame.
  const ss = Math.max(0, time - startTime - 5e-5).toFixed(6);
  await run(FFMPEG, ['-v', 'error', '-y', '-noautorotate', '-ss', ss, '-i', path, '-map', '0:v:0', '-frames:v', '1', '-vf', filter, '-c:v', 'png', '-update', '1', out]);
}

/** PSNR (dB, average over planes) between two images; Infinity when identical. */
export async function psnr(a: string, b: string): Promise<number> {
  const { stderr } = await run(FFMPEG, ['-hide_banner', '-i', a, '-i', b, '-lavfi', 'psnr', '-f', 'null', '-']);
  const m = /average:(inf|[\d.]+)/.exec(stderr);
  if (!m) throw new Error(`no PSNR for ${a} vs ${b}: ${stderr.slice(-300)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}

/** The chain both sides of a comparison use: coded size, square pixels, RGB for PNG. */
export const COMPARE_FILTER = `${scaleFilter()},format=rgb24`;

export interface Located {
  index: KeyframeIndex;
  /** Bytes of the distinct keyframes. */
  keyframeBytes: number;
  /** indexBytes + keyframeBytes. */
  floor: number;
  /** Bytes the origin reader served. */
  origin: number;
  requests: number;
  images: string[];
  wrote: boolean[];
  mode: string;
}

/** Locates, fetches and decodes the keyframes for `times` through a CachedReader over `origin`. */
export async function locateReadDecode(origin: RangeReader, times: number[], workDir: string, name: string): Promise<Located> {
  const cache = new CachedReader(origin);
  const index = await locateKeyframes(cache, times);
  const units = await readKeyframes(cache, index);
  const distinct = new Map(index.keyframes.map((k) => [k.offset, k.size]));
  const keyframeBytes = [...distinct.values()].reduce((a, b) => a + b, 0);
  const images = units.map((_, i) => join(workDir, `${name}-${i}.png`));
  const { wrote, mode } = await decodeKeyframes(units, images, {
    format: 'png',
    filter: COMPARE_FILTER,
    workDir,
    sourcePixels: index.width * index.height,
    color: index.color,
    sampleAspect: index.sampleAspect,
  });
  return { index, keyframeBytes, floor: index.indexBytes + keyframeBytes, origin: origin.stats().bytesRead, requests: origin.stats().requests, images, wrote, mode };
}

/**
 * The checks every container shares: each chosen keyframe is ffprobe's keyframe at or before
 * the time, and its image matches ffmpeg's decode of that frame from the whole file.
 */
export async function expectMatchesFfmpeg(path: string, probed: ProbedKeys, got: Located, workDir: string, name: string, skipDecode: (time: number) => boolean = () => false): Promise<number[]> {
  const scores: number[] = [];
  for (const [i, kf] of got.index.keyframes.entries()) {
    expect(kf.time, `${name}: keyframe for ${kf.requestedTime} s`).toBeCloseTo(expectedKey(probed.keys, kf.requestedTime), 5);
    if (skipDecode(kf.time)) continue;
    expect(got.wrote[i], `${name}: image for ${kf.requestedTime} s`).toBe(true);
    const ref = join(workDir, `${name}-${i}-ref.png`);
    await referenceFrame(path, kf.time, probed.startTime, ref, COMPARE_FILTER);
    const score = await psnr(got.images[i]!, ref);
    scores.push(score);
    expect(score, `${name}: PSNR of the keyframe at ${kf.time} s against ffmpeg's decode`).toBeGreaterThanOrEqual(45);
  }
  return scores;
}
