// The chunked transcode's media side on real ffmpeg: plan → chunk encodes → audio once →
// merge, with each output proven frame-exact by reading back the frame number every counter
// clip frame carries, and A/V sync by measuring each beep against the frame that shows its second.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { VidfleetError } from '../../src/protocol/index.js';
import { analyzeSource, type Analysis } from '../../src/media/transcode/analyze.js';
import { assessChunk, assessMerged, checkChunk, checkMerged, listPackets, type StreamPackets } from '../../src/media/transcode/checks.js';
import { planChunks, resolveRenditions, type FrameInfo } from '../../src/media/transcode/chunks.js';
import { audioFilters, segmentKeyTimes, trackTimescale, videoChunkArgs, videoCodecArgs } from '../../src/media/transcode/encode-args.js';
import { encodeAudio } from '../../src/media/transcode/encode-audio.js';
import { encodeVideoChunk } from '../../src/media/transcode/encode-chunk.js';
import { concatScript, mergeRendition } from '../../src/media/transcode/merge.js';
import type { ChunkPlan, MergeReport, RenditionSpec, ResolvedRendition, SourceFacts } from '../../src/media/transcode/types.js';
import { CLIP_DIR, makeClip, startMediaServer } from '../helpers/clips.js';
import { beepOnsets, frameCodes, makeCounterClip } from '../helpers/counter-clip.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR } from '../helpers/shared-media.js';

const run = promisify(execFile);
const work = (): string => mkdtempSync(join(CLIP_DIR, 'tc-'));
const ms = (s: number): number => Math.round(s * 10000) / 10;

function frames(count: number, fps: number, keyEvery: number, keys?: number[]): FrameInfo[] {
  return Array.from({ length: count }, (_, i) => ({ pts: i / fps, key: keys ? keys.includes(i) : i % keyEvery === 0 }));
}

function facts(over: Partial<SourceFacts>): SourceFacts {
  return {
    duration: 10, frames: 250, codedWidth: 1920, codedHeight: 1080, displayWidth: 1920, displayHeight: 1080, rotation: 0, fps: 25, vfr: false,
    interlaced: false, timeBase: { num: 1, den: 12800 }, videoStart: 0, audio: null, ...over,
  };
}

async function expectVidfleet(p: Promise<unknown>, code: string): Promise<VidfleetError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(VidfleetError);
  expect((err as VidfleetError).code).toBe(code);
  return err as VidfleetError;
}

/** Display-order times of a file's first video stream, relative to its first frame. */
async function videoTimes(path: string): Promise<{ rel: number[]; video: StreamPackets }> {
  const video = (await listPackets(path)).find((s) => s.type === 'video')!;
  const pts = video.pts.filter((_, i) => !video.discard[i]).sort((a, b) => a - b);
  return { rel: pts.map((p) => p - pts[0]!), video };
}

/** Encodes every chunk of one rendition, the audio once, merges; returns the merge report. */
async function transcode(input: string, a: Analysis, plan: ChunkPlan[], r: ResolvedRendition, dir: string, segmentSeconds?: number, audioCodec: 'aac' | 'opus' = 'aac') {
  const chunks: { plan: ChunkPlan; path: string }[] = [];
  let encodeSeconds = 0;
  for (const chunk of plan) {
    const out = join(dir, `${r.name}-${chunk.index}.mp4`);
    const rep = await encodeVideoChunk({ input, facts: a.facts, chunk, rendition: r, segmentSeconds, out });
    encodeSeconds += rep.encodeSeconds;
    chunks.push({ plan: chunk, path: out });
  }
  const audio = a.facts.audio ? await encodeAudio({ input, facts: a.facts, audio: { codec: audioCodec, bitrateKbps: 96, channels: 2 }, out: join(dir, `${r.name}-audio.m4a`) }) : null;
  const merged = await mergeRendition({ facts: a.facts, chunks, audioPath: audio?.path ?? null, out: join(dir, `${r.name}.mp4`), rendition: r.name, segmentSeconds });
  return { chunks, audio, merged, encodeSeconds };
}

/** Beep k against the frame showing second k (code k·fps): worst |drift| in seconds over all beeps. */
async function worstDrift(merged: MergeReport, sourceW: number, sourceH: number, fps: number, firstSecond: number, videoDelay = 0) {
  const [codes, { rel }, onsets] = await Promise.all([frameCodes(merged.path, sourceW, sourceH), videoTimes(merged.path), beepOnsets(merged.path)]);
  const drift: number[] = [];
  for (const onset of onsets) {
    const second = Math.round(onset + videoDelay);
    if (second < firstSecond) continue;
    const at = codes.indexOf(second * fps);
    expect(at, `frame of second ${second}`).toBeGreaterThanOrEqual(0);
    drift.push(onset - rel[at]!);
  }
  return { codes, onsets, drift, worst: Math.max(...drift.map(Math.abs)) };
}

describe('planChunks', () => {
  it('cuts at the keyframe nearest each multiple of the target and every chunk starts on one', () => {
    const plan = planChunks(frames(1500, 25, 50), { targetSeconds: 10, minSeconds: 3 });
    expect(plan.map((c) => c.start)).toEqual([0, 10, 20, 30, 40, 50]);
    expect(plan.every((c) => c.frames === 250)).toBe(true);
    expect(plan[1]).toMatchObject({ firstFrame: 250, end: 20, last: 19.96 });
    expect(plan[1]!.seekFrom).toBeCloseTo(9.98, 9);
    expect(plan[5]!.end).toBeCloseTo(60, 9);
  });

  it('picks the nearest of irregular keyframes and merges a short tail into the previous chunk', () => {
    // keys at 0, 4.4, 9.6, 10.8, 19.2, 21.0, 29.6 s; the video ends at 31.04 s
    const f = frames(776, 25, 0, [0, 110, 240, 270, 480, 525, 740]);
    const plan = planChunks(f, { targetSeconds: 10, minSeconds: 3 });
    expect(plan.map((c) => c.firstFrame)).toEqual([0, 240, 480]);
    expect(plan[2]!.frames).toBe(776 - 480);
    expect(plan.reduce((n, c) => n + c.frames, 0)).toBe(776);
    const noMin = planChunks(f, { targetSeconds: 10, minSeconds: 0 });
    expect(noMin.map((c) => c.firstFrame)).toEqual([0, 240, 480, 740]);
  });

  it('never makes a chunk shorter than minSeconds, nor two chunks from one keyframe', () => {
    const f = frames(1000, 25, 0, [0, 30, 625]); // keys at 0, 1.2, 25 s
    expect(planChunks(f, { targetSeconds: 1, minSeconds: 2 }).map((c) => c.firstFrame)).toEqual([0, 625]);
    expect(planChunks(f, { targetSeconds: 10, minSeconds: 16 }).map((c) => c.firstFrame)).toEqual([0]);
  });

  it('gives one chunk for target 0 or a non-finite target', () => {
    for (const targetSeconds of [0, Infinity, NaN]) {
      const plan = planChunks(frames(100, 25, 10), { targetSeconds, minSeconds: 1 });
      expect(plan).toHaveLength(1);
      expect(plan[0]).toMatchObject({ index: 0, firstFrame: 0, frames: 100, start: 0, end: 4 });
    }
  });
});

describe('resolveRenditions', () => {
  const spec = (s: Partial<RenditionSpec>): RenditionSpec => ({ name: 'r', codec: 'h264', ...s });
  it('keeps the display aspect with even sizes, also for odd, rotated, portrait and anamorphic sources', () => {
    const odd = facts({ codedWidth: 161, codedHeight: 121, displayWidth: 161, displayHeight: 121 });
    expect(resolveRenditions(odd, [spec({ height: 90 })])[0]).toMatchObject({ width: 120, height: 90 });
    expect(resolveRenditions(odd, [spec({})])[0]).toMatchObject({ width: 160, height: 120 });
    const rotated = facts({ rotation: 90, displayWidth: 1080, displayHeight: 1920 });
    expect(resolveRenditions(rotated, [spec({ height: 720 })])[0]).toMatchObject({ width: 406, height: 720 });
    expect(resolveRenditions(rotated, [spec({ width: 1280, height: 720 })])[0]).toMatchObject({ width: 1080, height: 608 });
    const pal = facts({ codedWidth: 720, codedHeight: 576, displayWidth: 1024, displayHeight: 576 });
    expect(resolveRenditions(pal, [spec({ height: 288 })])[0]).toMatchObject({ width: 512, height: 288 });
  });

  it('never upscales', () => {
    const small = facts({ displayWidth: 640, displayHeight: 360, codedWidth: 640, codedHeight: 360 });
    expect(resolveRenditions(small, [spec({ height: 1080 })])[0]).toMatchObject({ width: 640, height: 360 });
    expect(resolveRenditions(small, [spec({ width: 1920 })])[0]).toMatchObject({ width: 640, height: 360 });
  });

  it('refuses duplicate or unusable names and contradictory rate control', () => {
    const f = facts({});
    expect(() => resolveRenditions(f, [spec({ name: 'a' }), spec({ name: 'a' })])).toThrow(/used twice/);
    expect(() => resolveRenditions(f, [spec({ name: '../x' })])).toThrow(VidfleetError);
    expect(() => resolveRenditions(f, [spec({ crf: 20, bitrateKbps: 900 })])).toThrow(/not both/);
    expect(() => resolveRenditions(f, [spec({ preset: 'warp' })])).toThrow(/preset/);
  });
});

describe('encode arguments', () => {
  it('chooses an exact track timescale', () => {
    expect([{ num: 1, den: 12800 }, { num: 1, den: 25 }, { num: 1, den: 1000 }, { num: 1001, den: 30000 }, { num: 1, den: 90000 }, { num: 1, den: 10_000_000 }].map(trackTimescale)).toEqual([
      12800, 12800, 16000, 30000, 90000, 90000,
    ]);
  });

  it('seeks before the input, keeps timestamps, forces segment keyframes relative to the chunk', () => {
    const f = facts({ duration: 60, frames: 1500, interlaced: true });
    const chunk = planChunks(frames(1500, 25, 50), { targetSeconds: 10, minSeconds: 3 })[1]!;
    expect(segmentKeyTimes(chunk, f, 4)).toEqual([2, 6]);
    expect(segmentKeyTimes({ ...chunk, start: 8, end: 16 }, f, 4)).toEqual([4]);
    const r: ResolvedRendition = { name: '360p', codec: 'h264', width: 640, height: 360, bitrateKbps: 800, maxrateKbps: 1000 };
    const args = videoChunkArgs({ inputArg: 'file:/in.mp4', facts: f, chunk, rendition: r, segmentSeconds: 4, out: '/o.mp4', protocolWhitelist: 'file' });
    expect(args.indexOf('-ss')).toBeLessThan(args.indexOf('-i'));
    // A quarter of a 1/12800 s tick before the keyframe at 10 s: decoding starts at that keyframe,
    // not at the GOP before it (which half a frame early, 9.98 s, did).
    expect(args[args.indexOf('-ss') + 1]).toBe('9.999980');
    expect(args[args.indexOf('-frames:v') + 1]).toBe('250');
    expect(args[args.indexOf('-fps_mode') + 1]).toBe('passthrough');
    expect(args[args.indexOf('-force_key_frames') + 1]).toBe('1.999000,5.999000');
    expect(args[args.indexOf('-vf') + 1]).toMatch(/^bwdif=mode=send_frame.*scale=640:360,setsar=1,format=yuv420p,setpts=PTS-STARTPTS$/);
    expect(args.join(' ')).toContain('-b:v 800k -maxrate 1000k -bufsize 2000k');
    expect(args.join(' ')).toContain('keyint=100:scenecut=40:open-gop=0');
  });

  it('builds per-codec encoder arguments', () => {
    expect(videoCodecArgs({ name: 'a', codec: 'h264', crf: 21, preset: 'fast' }, { fps: 25 }).join(' ')).toContain('-preset fast -crf 21 -profile:v high');
    expect(videoCodecArgs({ name: 'a', codec: 'hevc' }, { fps: 30 }).join(' ')).toMatch(/libx265.*-crf 28.*-tag:v hvc1 -forced-idr 1.*keyint=60:.*open-gop=0/);
    expect(videoCodecArgs({ name: 'a', codec: 'av1', crf: 40 }, { fps: 25 }).join(' ')).toMatch(/libsvtav1 -preset 8 -crf 40 -g 50 -svtav1-params irefresh-type=2/);
    const part = videoChunkArgs({
      inputArg: 'file:/in.mp4', facts: facts({}), chunk: { index: 0, start: 0, end: 4, firstFrame: 0, frames: 100 }, rendition: { name: 'a', codec: 'av1', width: 320, height: 180 },
      segmentSeconds: 1, out: '/p.mp4', protocolWhitelist: 'file', part: { from: 1.999, seconds: 1.0, frames: null },
    });
    expect(part.join(' ')).toMatch(/-ss 1\.999000 -i file:\/in\.mp4 .*-vf trim=end=1\.000000,scale=320:180,setsar=1,format=yuv420p -c:v libsvtav1/);
    expect(part).not.toContain('-frames:v');
    expect(part).not.toContain('-force_key_frames');
    expect(audioFilters(facts({ videoStart: 0.32, duration: 5.68 }), 48000)).toBe('asetpts=PTS-0.320000/TB,aresample=48000:async=1:first_pts=0,apad,atrim=end_sample=272640');
  });
});

describe('check rules on listed packets', () => {
  const stream = (pts: number[], keys: number[] = [0]): StreamPackets => ({
    index: 0, type: 'video', start: null, duration: null, extradata: 'CRC32:1', pts, dts: pts.map((_, i) => (i - 1) * 0.04),
    size: pts.map((_, i) => 100 + i), key: pts.map((_, i) => keys.includes(i)), discard: pts.map(() => false),
  });
  const times = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i * 0.04);
  const chunk = planChunks(frames(10, 25, 5), { targetSeconds: 0, minSeconds: 0 })[0]!;

  it('a chunk must have its frame count, a leading keyframe, rising timestamps and its segment keyframes', () => {
    const o = { chunk, rendition: 'r' };
    expect(assessChunk(stream(times(10)), o).ok).toBe(true);
    expect(assessChunk(stream(times(9)), o).problems).toEqual(['has 9 frames, the plan says 10', 'ends at 320.0 ms, the plan\'s last frame is at 360.0 ms']);
    expect(assessChunk(stream(times(10), [3]), o).problems).toEqual(['does not start with a keyframe']);
    expect(assessChunk(stream([...times(9), 0.32]), o).problems).toContain('has missing or repeated presentation timestamps');
    expect(assessChunk({ ...stream(times(10)), dts: times(10).map((t, i) => (i === 4 ? 0 : t)) }, o).problems).toEqual(['has decode timestamps that do not increase']);
    expect(assessChunk(stream(times(10), [0, 5]), { ...o, keyTimes: [0.2] }).missingSegmentKeys).toEqual([]);
    expect(assessChunk(stream(times(10)), { ...o, keyTimes: [0.2] }).missingSegmentKeys).toEqual([0.2]);
  });

  it('a merge must reproduce each seam: a chunk a frame late is named', () => {
    const plan = planChunks(frames(20, 25, 10), { targetSeconds: 0.4, minSeconds: 0 });
    const f = facts({ frames: 20, duration: 0.8 });
    const chunks = plan.map((p) => ({ plan: p }));
    expect(assessMerged([stream(times(20), [0, 10])], [], { facts: f, chunks, expectAudio: false })).toMatchObject({ ok: true, chunkFrames: [10, 10] });
    const late = assessMerged([stream([...times(10), ...times(10, 0.44)], [0, 10])], [], { facts: f, chunks, expectAudio: false });
    expect(late).toMatchObject({ ok: false, badChunk: 1 });
    expect(late.problems[0]).toMatch(/^chunk 1: the seam before it is 80\.0 ms wide, the source's is 40\.0 ms/);
    expect(assessMerged([stream(times(20), [0, 10])], [], { facts: f, chunks, expectAudio: true }).problems).toEqual(['has no audio stream']);
  });
});

describe('chunked transcode of a 2-minute 720p counter clip', () => {
  let input = '';
  let a: Analysis;
  let plan: ChunkPlan[];
  let renditions: ResolvedRendition[];
  const results = new Map<string, Awaited<ReturnType<typeof transcode>>>();
  const dir = work();

  it('analyses and plans ~10 s chunks on its 2 s GOPs', async () => {
    input = await makeCounterClip({ seconds: 120, width: 1280, height: 720, fps: 25, audio: true });
    const logs: string[] = [];
    a = await analyzeSource(input, { onLog: (l) => logs.push(l) });
    expect(logs.join('\n')).toMatch(/audio stream #1 \(aac, 1 ch\) of 1 is used/);
    expect(a.facts).toMatchObject({ frames: 3000, fps: 25, vfr: false, interlaced: false, timeBase: { num: 1, den: 12800 }, videoStart: 0, displayWidth: 1280 });
    expect(a.facts.duration).toBeCloseTo(120, 6);
    expect(a.facts.audio).toMatchObject({ start: 0, count: 1, sampleRate: 48000 });
    plan = planChunks(a.frames, { targetSeconds: 10, minSeconds: 3 });
    expect(plan).toHaveLength(12);
    renditions = resolveRenditions(a.facts, [
      { name: '720p', height: 720, codec: 'h264', crf: 30, preset: 'ultrafast' },
      { name: '480p', height: 480, codec: 'h264', bitrateKbps: 900, maxrateKbps: 1200, bufsizeKbps: 2400, preset: 'ultrafast' },
      { name: '360p', width: 640, codec: 'h264', crf: 30, preset: 'ultrafast' },
    ]);
    expect(renditions.map((r) => `${r.width}x${r.height}`)).toEqual(['1280x720', '854x480', '640x360']);
  }, 120_000);

  it('encodes every chunk of 3 renditions and merges each frame-exact with the beeps on their frames', async () => {
    for (const r of renditions) {
      const res = await transcode(input, a, plan, r, dir, r.name === '480p' ? 4 : undefined);
      results.set(r.name, res);
      expect(res.merged.check).toMatchObject({ ok: true, frames: 3000, expectedFrames: 3000, chunkFrames: plan.map(() => 250), badChunk: null });
      const { codes, drift, worst } = await worstDrift(res.merged, 1280, 720, 25, 1);
      expect(codes).toEqual(Array.from({ length: 3000 }, (_, i) => i));
      expect(drift).toHaveLength(119);
      expect(worst).toBeLessThan(0.04);
      console.log(`[transcode] ${r.name}: 12 chunks ${res.encodeSeconds.toFixed(1)} s, audio ${res.audio?.encodeSeconds.toFixed(2)} s, merge ${res.merged.mergeSeconds.toFixed(2)} s; ` +
        `drift at 1 s ${ms(drift[0]!)} ms, 60 s ${ms(drift[59]!)} ms, 119 s ${ms(drift[118]!)} ms, worst ${ms(worst)} ms; seam error ${ms(res.merged.check.worstSeamError)} ms`);
    }
  }, 240_000);

  it('fails checkChunk for a chunk with the wrong frame count, naming chunk and rendition', async () => {
    const r = renditions[2]!;
    const last = plan[11]!;
    const err = await expectVidfleet(encodeVideoChunk({ input, facts: a.facts, chunk: { ...last, frames: last.frames + 3 }, rendition: r, out: join(dir, 'long.mp4') }), 'CHUNK_CHECK_FAILED');
    expect(err.message).toMatch(/^Chunk 11 of rendition 360p has 250 frames, the plan says 253/);
    expect(err.retryable).toBe(true);
    // One frame short: the encode honours its (wrong) plan, the real plan catches it.
    const fractions: number[] = [];
    const short = await encodeVideoChunk({ input, facts: a.facts, chunk: { ...plan[3]!, frames: 249, last: plan[3]!.last! - 0.04 }, rendition: r, out: join(dir, 'short.mp4'), onProgress: (f) => fractions.push(f) });
    expect(short.check.frames).toBe(249);
    expect(fractions.at(-1)).toBe(1);
    expect(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!))).toBe(true);
    const err2 = await expectVidfleet(checkChunk(short.path, { chunk: plan[3]!, rendition: r.name }), 'CHUNK_CHECK_FAILED');
    expect(err2.details).toMatchObject({ chunk: 3, rendition: '360p' });
  }, 60_000);

  it('fails checkMerged on a merge that lost a chunk, naming that chunk', async () => {
    const res = results.get('360p')!;
    const kept = res.chunks.filter((c) => c.plan.index !== 5);
    const list = join(dir, 'tampered.txt');
    await import('node:fs/promises').then((fs) => fs.writeFile(list, concatScript(kept.map((c) => ({ path: c.path, duration: c.plan.end - c.plan.start })))));
    const out = join(dir, 'tampered.mp4');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'concat', '-safe', '0', '-auto_convert', '0', '-i', list, '-i', res.audio!.path, '-map', '0:v', '-map', '1:a', '-c', 'copy', out]);
    const err = await expectVidfleet(checkMerged(out, { facts: a.facts, chunks: res.chunks, rendition: '360p', expectAudio: true }), 'MERGE_CHECK_FAILED');
    expect(err.message).toMatch(/at chunk 5:/);
    expect(err.details).toMatchObject({ chunk: 5 });
    const err2 = await expectVidfleet(mergeRendition({ facts: a.facts, chunks: kept, audioPath: res.audio!.path, out: join(dir, 'x.mp4'), rendition: '360p' }), 'MERGE_CHECK_FAILED');
    expect(err2.message).toMatch(/chunk 5 is missing/);
    // Audio made for a source half a second shorter: the A/V rule catches it.
    const short = await encodeAudio({ input, facts: { ...a.facts, duration: a.facts.duration - 0.5 }, audio: { codec: 'aac', bitrateKbps: 64, channels: 1 }, out: join(dir, 'short.m4a') });
    const err3 = await expectVidfleet(mergeRendition({ facts: a.facts, chunks: res.chunks, audioPath: short.path, out: join(dir, 'y.mp4'), rendition: '360p' }), 'MERGE_CHECK_FAILED');
    expect(err3.message).toMatch(/audio lasts 119\.500 s, the video 120\.000 s/);
    expect(err3.details).toMatchObject({ chunk: null });
  }, 60_000);
});

describe('audio aligned to the first video frame', () => {
  it.each([
    { name: 'AAC, source audio starting 0.3 s after the video: padded', opts: { audioDelay: 0.3 }, offset: 0.3, codec: 'aac' as const },
    { name: 'Opus in MP4, source audio starting 0.32 s before the video: trimmed', opts: { videoDelay: 0.32 }, offset: -0.32, codec: 'opus' as const },
  ])('$name', async ({ opts, offset, codec }) => {
    const input = await makeCounterClip({ seconds: 8, width: 320, height: 240, fps: 25, audio: true, ...opts });
    const a = await analyzeSource(input);
    expect(a.facts.audio!.start - a.facts.videoStart).toBeCloseTo(offset, 1);
    const plan = planChunks(a.frames, { targetSeconds: 4, minSeconds: 1 });
    expect(plan.length).toBe(2);
    const [r] = resolveRenditions(a.facts, [{ name: 'tiny', height: 120, codec: 'h264', preset: 'ultrafast' }]);
    const res = await transcode(input, a, plan, r!, work(), undefined, codec);
    expect(res.audio).toMatchObject({ codec, stream: 1 });
    expect(res.audio!.offset).toBeCloseTo(offset, 1);
    expect(res.merged.check).toMatchObject({ ok: true, frames: a.facts.frames });
    expect(Math.abs(res.merged.check.audioOffset!)).toBeLessThan(0.04);
    const delay = 'videoDelay' in opts ? opts.videoDelay : 0;
    const { worst, drift } = await worstDrift(res.merged, 320, 240, 25, 1, delay);
    expect(drift.length).toBe(7);
    expect(worst).toBeLessThan(0.04);
    console.log(`[transcode] ${codec}, ${offset > 0 ? 'late' : 'early'} audio (${ms(offset)} ms): worst beep drift ${ms(worst)} ms, A/V start offset ${ms(res.merged.check.audioOffset!)} ms`);
  }, 60_000);
});

it('refuses an input without a video stream', async () => {
  const err = await expectVidfleet(analyzeSource(await makeClip({ video: false, audio: true })), 'NOT_A_VIDEO');
  expect(err.message).toMatch(/no decodable video stream \(it has audio\)/);
});

describe.skipIf(!HAVE_REAL_MEDIA)('real sources, chunked to one small rendition', () => {
  /** Chunk, merge, then compare every merged frame time with the source's own. */
  async function frameExact(input: string, targetSeconds: number, minSeconds: number, height: number) {
    const a = await analyzeSource(input.startsWith('http') ? input : join(REAL_MEDIA_DIR, input));
    const plan = planChunks(a.frames, { targetSeconds, minSeconds });
    const [r] = resolveRenditions(a.facts, [{ name: 'small', height, codec: 'h264', preset: 'ultrafast' }]);
    const res = await transcode(input.startsWith('http') ? input : join(REAL_MEDIA_DIR, input), a, plan, r!, work());
    const { rel } = await videoTimes(res.merged.path);
    const src = a.frames.map((f) => f.pts - a.facts.videoStart);
    const worst = Math.max(...src.map((t, i) => Math.abs(t - (rel[i] ?? Infinity))));
    return { a, plan, r: r!, res, rel, worst };
  }

  it('keeps a rotated VFR phone clip (HEVC, read over HTTP with ranges) frame-exact with its own timing', async () => {
    const server = await startMediaServer();
    try {
      const url = `${server.url}/file?path=${encodeURIComponent(join(REAL_MEDIA_DIR, '05_phone_pixel-motionphoto_hevc-hvc1_vfr.mp4'))}`;
      const { a, plan, r, res, rel, worst } = await frameExact(url, 0.5, 0.2, 320);
      expect(a.facts).toMatchObject({ vfr: true, rotation: 90, displayWidth: 768, displayHeight: 1024, frames: 58, videoStream: 0 });
      expect(plan.length).toBeGreaterThanOrEqual(3);
      expect(r).toMatchObject({ width: 240, height: 320 });
      expect(res.merged.check).toMatchObject({ ok: true, frames: 58 });
      expect(rel).toHaveLength(58);
      expect(worst).toBeLessThan(1e-4);
      const probe = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height:stream_side_data=rotation', '-of', 'json', res.merged.path]);
      expect(JSON.parse(probe.stdout).streams[0]).toEqual({ width: 240, height: 320 });
      console.log(`[transcode] VFR 05: ${plan.length} chunks (${plan.map((c) => c.frames).join('+')} frames), worst frame-time error ${ms(worst)} ms, encode ${res.encodeSeconds.toFixed(2)} s`);
    } finally {
      await server.close();
    }
  }, 90_000);

  it('keeps an interlaced open-GOP MPEG-2 broadcast cut frame-exact (leading B-frames decoded from the next GOP)', async () => {
    const { a, plan, res, rel, worst } = await frameExact('19_ts_dvbt_mpeg2-576i-tff_mp2.ts', 1, 0.4, 144);
    expect(a.facts).toMatchObject({ interlaced: true, frames: 59, displayWidth: 1024, displayHeight: 576 });
    expect(a.facts.audio).toMatchObject({ codec: 'mp2' });
    expect(plan.length).toBeGreaterThanOrEqual(3);
    expect(res.merged.check).toMatchObject({ ok: true, frames: 59 });
    expect(rel).toHaveLength(59);
    expect(worst).toBeLessThan(1e-4);
    console.log(`[transcode] MPEG-2 19: ${plan.length} chunks (${plan.map((c) => c.frames).join('+')} frames), worst frame-time error ${ms(worst)} ms, audio offset ${ms(res.merged.check.audioOffset!)} ms`);
  }, 90_000);
});

describe('other codecs on a small counter clip', () => {
  const hasEncoder = async (name: string): Promise<boolean> => (await run('ffmpeg', ['-hide_banner', '-encoders'])).stdout.includes(` ${name} `);

  it.each([
    { codec: 'hevc' as const, encoder: 'libx265', preset: 'ultrafast', segmentSeconds: 1 as number | undefined },
    { codec: 'av1' as const, encoder: 'libsvtav1', preset: '12', segmentSeconds: 1 },
  ])('$codec: chunks merge frame-exact', async ({ codec, encoder, preset, segmentSeconds }) => {
    if (!(await hasEncoder(encoder))) {
      console.log(`[transcode] ${encoder} is not in this ffmpeg: the ${codec} case is skipped`);
      return;
    }
    const input = await makeCounterClip({ seconds: 6, width: 320, height: 240, fps: 25, audio: false, gop: 25 });
    const a = await analyzeSource(input);
    const plan = planChunks(a.frames, { targetSeconds: 2, minSeconds: 1 });
    const [r] = resolveRenditions(a.facts, [{ name: codec, height: 120, codec, preset }]);
    const res = await transcode(input, a, plan, r!, work(), segmentSeconds);
    expect(res.merged.check).toMatchObject({ ok: true, frames: 150 });
    expect(await frameCodes(res.merged.path, 320, 240)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    console.log(`[transcode] ${codec}: ${plan.length} chunks, encode ${res.encodeSeconds.toFixed(2)} s`);
  }, 90_000);
});
