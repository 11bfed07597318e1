// sprite: the plan (cues, sheets, method, VTT, checkpoint) as pure functions, then real ffmpeg:
// every sprite made here is checked the way a player would use it — the VTT parses, its cues
// run back to back from 0 to the duration, each xywh lies inside its sheet and shows the
// frame at the cue's middle (compared with that frame decoded independently).
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateParams } from '../../src/coordinator/params.js';
import { spriteRunner } from '../../src/media/kinds/sprite.js';
import { planSprite, reusableSheets, spriteMethod, spriteVtt } from '../../src/media/kinds/sprite-plan.js';
import { kindSpec, VidfleetError, type SpriteResult } from '../../src/protocol/index.js';
import { cancelWhileFfmpegRuns, makeClip, makeInterlacedClip, makeTextFile, makeTruncatedMp4, taskContext } from '../helpers/clips.js';
import { hdrReferences, imageInfo, look, mad, spread } from '../helpers/images.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR, realMediaFiles } from '../helpers/shared-media.js';
import { parseThumbnailVtt, type ThumbnailCue } from '../helpers/vtt.js';

async function sprite(input: string, params: Record<string, unknown> = {}, resumeData: unknown = null) {
  const rec = taskContext(input, params, resumeData);
  const result = (await spriteRunner.run(rec.ctx)) as SpriteResult;
  const file = (name: string) => join(rec.ctx.workDir, name);
  return { result, rec, file, cues: await checkTrack(result, file, new Set(rec.artifacts.map((a) => a.name))) };
}

/** What a player relies on: cues back to back over the whole video, each inside its sheet, sheets as listed. */
async function checkTrack(result: SpriteResult, file: (name: string) => string, made: Set<string>): Promise<ThumbnailCue[]> {
  const cues = parseThumbnailVtt(await readFile(file(result.vtt), 'utf8'));
  expect(cues).toHaveLength(result.count);
  expect(cues[0]?.start).toBe(0);
  expect(cues.at(-1)?.end).toBe(Math.round(result.duration * 1000));
  for (const [k, cue] of cues.entries()) {
    expect(cue.end).toBeGreaterThan(cue.start);
    if (k > 0) expect(cue.start).toBe(cues[k - 1]?.end);
  }
  for (const sheet of result.sheets) {
    if (made.has(sheet.artifact)) expect(await imageInfo(file(sheet.artifact))).toMatchObject({ width: sheet.width, height: sheet.height });
    const on = cues.filter((c) => c.file === sheet.artifact);
    expect(on).toHaveLength(sheet.thumbnails);
    for (const c of on) {
      expect([c.w, c.h]).toEqual([result.tileWidth, result.tileHeight]);
      expect(c.x + c.w).toBeLessThanOrEqual(sheet.width);
      expect(c.y + c.h).toBeLessThanOrEqual(sheet.height);
    }
  }
  return cues;
}

const cell = (c: ThumbnailCue) => `crop=${c.w}:${c.h}:${c.x}:${c.y}`;

/** The cell shows the frame at `expected` seconds: it is closer to it than to the frames at `others` (decoded independently). */
async function expectShows(source: string, cue: ThumbnailCue, sheetPath: string, expected: number, others: number[]): Promise<void> {
  const frame = async (t: number) => (await look(source, `scale=${cue.w}:${cue.h}`, ['-ss', t.toFixed(3)])).rgb;
  const ours = (await look(sheetPath, cell(cue))).rgb;
  const here = mad(ours, await frame(expected));
  for (const t of others.filter((o) => Math.abs(o - expected) > 0.1)) expect(here).toBeLessThan(mad(ours, await frame(t)));
}

/** Where cue k's thumbnail should come from: half an interval into the cue, at most its end. */
const thumbTime = (r: SpriteResult, c: ThumbnailCue) => Math.min(c.start / 1000 + r.interval / 2, c.end / 1000);

describe('sprite params', () => {
  it('accepts interval or count with the options, and refuses both, or values out of range', () => {
    expect(validateParams('sprite', { interval: 2.5, tileWidth: 120, columns: 5, rows: 4, format: 'webp', quality: 70, mode: 'exact' })).toMatchObject({ interval: 2.5 });
    expect(validateParams('sprite', { count: 50 })).toMatchObject({ count: 50 });
    const refuse = (params: Record<string, unknown>, message: RegExp) => {
      let err: VidfleetError | null = null;
      try {
        validateParams('sprite', params);
      } catch (e) {
        err = e as VidfleetError;
      }
      expect(err?.code).toBe('INVALID_PARAMS');
      expect(err?.message).toMatch(message);
    };
    refuse({ interval: 5, count: 10 }, /either "interval".*or "count"/);
    refuse({ interval: 0.4 }, /"interval"/);
    refuse({ count: 0 }, /"count"/);
    refuse({ columns: 100, tileWidth: 200, format: 'webp' }, /20000 px wide, more than webp allows/);
    expect(kindSpec('sprite').requires!({ format: 'webp' })).toEqual(['encoder:libwebp']);
    expect(kindSpec('sprite').requires!({})).toEqual([]);
  });
});

describe('sprite plan', () => {
  it('cuts the duration into cues of interval seconds, the last one ending at the duration', () => {
    expect(planSprite({}, 25, 'x')).toMatchObject({ interval: 10, bounds: [0, 10000, 20000, 25000], sheets: [{ index: 1, first: 0, count: 3, rows: 1 }] });
    expect(planSprite({ interval: 10 }, 30, 'x').bounds).toEqual([0, 10000, 20000, 30000]);
    expect(planSprite({ count: 4 }, 10, 'x')).toMatchObject({ interval: 2.5, bounds: [0, 2500, 5000, 7500, 10000] });
    expect(planSprite({ count: 3 }, 1, 'x').bounds).toEqual([0, 333, 667, 1000]);
  });

  it('fills sheets row by row; the last sheet has only the rows it needs', () => {
    expect(planSprite({ interval: 2 }, 300, 'x').sheets).toEqual([
      { index: 1, first: 0, count: 100, rows: 10 },
      { index: 2, first: 100, count: 50, rows: 5 },
    ]);
    expect(planSprite({ interval: 1, columns: 4, rows: 2 }, 9.5, 'x').sheets.map((s) => [s.count, s.rows])).toEqual([
      [8, 2],
      [2, 1],
    ]);
  });

  it('refuses more thumbnails than a job makes, saying which interval would do', () => {
    expect(() => planSprite({ interval: 0.5 }, 36_000, 'film.mkv')).toThrow(/72000 thumbnails, more than the 20000 .* use an interval of at least 1\.8 s/);
    expect(() => planSprite({ count: 100 }, 0.05, 'x')).toThrow(/less than a millisecond apart/);
  });

  it('reads with one pass per sheet while thumbnails are dense, with seeks when they are sparse', () => {
    expect(spriteMethod('keyframe', 10)).toBe('pass');
    expect(spriteMethod('keyframe', 15)).toBe('seek');
    expect(spriteMethod('exact', 2)).toBe('pass');
    expect(spriteMethod('exact', 3)).toBe('seek');
  });

  it('writes a WebVTT track with relative sheet URLs and exact tile positions', () => {
    const plan = planSprite({ interval: 10, columns: 2, rows: 1 }, 25, 'x');
    const text = spriteVtt(plan, 'jpeg', 2, 1, 160, 90);
    expect(text.startsWith('WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nsprite-001.jpg#xywh=0,0,160,90\n\n00:00:10.000 --> 00:00:20.000\nsprite-001.jpg#xywh=160,0,160,90\n')).toBe(true);
    expect(parseThumbnailVtt(text).at(-1)).toEqual({ start: 20000, end: 25000, file: 'sprite-002.jpg', x: 0, y: 0, w: 160, h: 90 });
  });

  it('reuses checkpointed sheets only when they were made the same way', () => {
    const plan = planSprite({ interval: 1, columns: 2, rows: 2 }, 10, 'x');
    const sheet = { artifact: 'sprite-001.jpg', width: 320, height: 180, thumbnails: 4 };
    const cp = { version: 1, key: 'k', tileHeight: 90, done: [sheet, { artifact: 'sprite-002.jpg', thumbnails: 3 }, 'junk'] };
    expect(reusableSheets(cp, 'k', plan, 'jpeg')).toEqual({ tileHeight: 90, done: new Map([[1, sheet]]) });
    expect(reusableSheets(cp, 'other', plan, 'jpeg').done.size).toBe(0);
    expect(reusableSheets(cp, 'k', plan, 'png').done.size).toBe(0);
    expect(reusableSheets(null, 'k', plan, 'jpeg').done.size).toBe(0);
  });
});

describe('sprites of synthetic clips', () => {
  // 25 s, 320x240, a keyframe every second.
  const clip = () => makeClip({ duration: 25 });

  it('keyframe mode, dense: one pass per sheet, two sheets, the VTT pointing at each thumbnail', async () => {
    const { result, rec, file, cues } = await sprite(await clip(), { interval: 2.5, tileWidth: 80, columns: 4, rows: 2 });
    expect(result).toMatchObject({ count: 10, interval: 2.5, tileWidth: 80, tileHeight: 60, columns: 4, rows: 2, method: 'pass', mode: 'keyframe', made: 2, reused: 0 });
    expect(result.sheets).toEqual([
      { artifact: 'sprite-001.jpg', width: 320, height: 120, thumbnails: 8 },
      { artifact: 'sprite-002.jpg', width: 320, height: 60, thumbnails: 2 },
    ]);
    expect(rec.artifacts.map((a) => [a.name, a.contentType])).toEqual([
      ['sprite-001.jpg', 'image/jpeg'],
      ['sprite-002.jpg', 'image/jpeg'],
      ['sprite.vtt', 'text/vtt'],
    ]);
    expect(rec.checkpoints).toHaveLength(2);
    for (const c of cues) expect(await spread(file(c.file), cell(c))).toBeGreaterThan(8);
    // The cells past the last thumbnail stay background.
    expect(await spread(file('sprite-002.jpg'), 'crop=160:60:160:0')).toBeLessThanOrEqual(2);
    // A keyframe every second: the one at or before each thumbnail's time.
    for (const k of [0, 5, 9]) {
      const kf = Math.floor(thumbTime(result, cues[k]!));
      await expectShows(await clip(), cues[k]!, file(cues[k]!.file), kf, [kf - 1, Math.min(24, kf + 1)]);
    }
  });

  it('keyframe mode, sparse: a seek per thumbnail, same track rules', async () => {
    const { result, file, cues } = await sprite(await clip(), { interval: 15, tileWidth: 80 });
    expect(result).toMatchObject({ count: 2, method: 'seek', sheets: [{ artifact: 'sprite-001.jpg', width: 800, height: 60, thumbnails: 2 }] });
    expect(cues.map((c) => thumbTime(result, c))).toEqual([7.5, 22.5]);
    for (const c of cues) {
      const kf = Math.floor(thumbTime(result, c));
      await expectShows(await clip(), c, file(c.file), kf, [kf - 1, kf + 1]);
    }
  });

  it.each([
    [2, 'pass'],
    [3, 'seek'],
  ])('exact mode, interval %s s (%s): each cell is the frame at its cue\'s middle', async (interval, method) => {
    const { result, file, cues } = await sprite(await clip(), { interval, tileWidth: 80, mode: 'exact', format: 'png' });
    expect(result).toMatchObject({ method, format: 'png' });
    expect((await imageInfo(file('sprite-001.png'))).codec).toBe('png');
    const lastFrame = 24.96;
    for (const k of [0, Math.floor(cues.length / 2), cues.length - 1]) {
      const t = Math.min(lastFrame, thumbTime(result, cues[k]!));
      await expectShows(await clip(), cues[k]!, file(cues[k]!.file), t, [t - interval / 4, Math.min(lastFrame, t + interval / 4)]);
    }
  });

  it('count sets the interval; WebP sheets; portrait video gives portrait thumbnails', async () => {
    const { result } = await sprite(await clip(), { count: 5, format: 'webp' });
    expect(result).toMatchObject({ count: 5, interval: 5, sheets: [{ artifact: 'sprite-001.webp', width: 1600, height: 120 }] });
    const turned = await sprite(await makeClip({ rotation: 90, duration: 4 }), { interval: 1, tileWidth: 60, columns: 2 });
    expect(turned.result).toMatchObject({ tileWidth: 60, tileHeight: 80, sheets: [{ width: 120, height: 160 }] });
  });

  it('a retry makes only the sheets the checkpoint does not list, and writes the whole track', async () => {
    const params = { interval: 1, tileWidth: 64, columns: 4, rows: 2 };
    const first = taskContext(await clip(), params);
    const upload = first.ctx.emitArtifact;
    first.ctx.emitArtifact = async (a) => {
      if (first.artifacts.length === 2) throw new VidfleetError('STORAGE_FAILED', 'upload refused');
      await upload(a);
    };
    await expect(spriteRunner.run(first.ctx)).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    const checkpoint = first.checkpoints.at(-1) as { done: Array<{ artifact: string }> };
    expect(checkpoint.done.map((d) => d.artifact)).toEqual(['sprite-001.jpg', 'sprite-002.jpg']);

    const { result, rec } = await sprite(await clip(), params, checkpoint);
    expect(rec.artifacts.map((a) => a.name)).toEqual(['sprite-003.jpg', 'sprite-004.jpg', 'sprite.vtt']);
    expect(rec.logs.join('\n')).toMatch(/2 of 4 sheets were stored by an earlier attempt/);
    expect(result).toMatchObject({ count: 25, made: 2, reused: 2 });
    expect(result.sheets.map((s) => s.artifact)).toEqual(['sprite-001.jpg', 'sprite-002.jpg', 'sprite-003.jpg', 'sprite-004.jpg']);
    // Other settings make other sheets: nothing is reused.
    const other = taskContext(await clip(), { ...params, tileWidth: 80 }, checkpoint);
    expect(((await spriteRunner.run(other.ctx)) as SpriteResult).reused).toBe(0);
  });

  it('cancel stops ffmpeg at once and rethrows the reason', async () => {
    const { rec, reason, rejectedWith, ffmpegLeft } = await cancelWhileFfmpegRuns((ctx) => spriteRunner.run(ctx), await makeClip({ duration: 120, width: 640, height: 480 }), { interval: 0.5, mode: 'exact' });
    expect(rejectedWith).toBe(reason);
    expect(ffmpegLeft).toBe(false);
    expect(rec.artifacts.map((a) => a.name)).not.toContain('sprite.vtt');
  });

  it('deinterlaces interlaced video', async () => {
    const { result, cues, file } = await sprite(await makeInterlacedClip(), { count: 2, mode: 'exact', tileWidth: 256 });
    expect(result.tileHeight).toBe(144);
    for (const c of cues) expect(await spread(file(c.file), cell(c))).toBeGreaterThan(8);
  });

  it('rejects bad inputs cleanly', async () => {
    const code = async (input: string) => (await spriteRunner.run(taskContext(input, {}).ctx).catch((e: unknown) => e as VidfleetError)) as VidfleetError;
    expect((await code(await makeTextFile('list.txt'))).code).toBe('NOT_A_VIDEO');
    expect((await code('/nonexistent/clip.mp4')).code).toBe('INPUT_NOT_FOUND');
    expect((await code(await makeTruncatedMp4())).code).toBe('INPUT_CORRUPT');
    expect((await code(await makeClip({ video: false, audio: true }))).code).toBe('NOT_A_VIDEO');
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('sprites of the real-world corpus', () => {
  const { good, bad } = realMediaFiles();
  const file = (prefix: string) => join(REAL_MEDIA_DIR, good.concat(bad).map((f) => basename(f)).find((f) => f.startsWith(prefix)) ?? prefix);

  it.each([
    ['04_', { count: 3 }], // 4K60 phone clip, rotated: portrait thumbnails
    ['10_', { interval: 1 }], // fragmented MP4
    ['13_', { count: 4, mode: 'exact' }], // MKV
    ['16_', { count: 2 }], // VP9 WebM at an odd 161x121
    ['19_', { interval: 1, mode: 'exact' }], // 576i MPEG-2 TS
    ['12_', { interval: 10 }], // MKV without a duration: measured
    ['25_', { interval: 20 }], // 139 s: a seek per thumbnail
  ])('%s %j gives a track that covers the video with thumbnails inside their sheets', async (prefix, params) => {
    const { result, cues, file: out } = await sprite(file(prefix), params);
    if (prefix === '04_') expect(result.tileHeight).toBeGreaterThan(result.tileWidth);
    if (prefix === '16_') expect(result.tileHeight).toBe(120);
    if (prefix === '12_') expect(result.duration).toBeGreaterThan(30);
    // Pictures, not background (some open on a black frame, so not every one).
    const spreads = await Promise.all(cues.slice(0, 4).map((c) => spread(out(c.file), cell(c))));
    expect(Math.max(...spreads)).toBeGreaterThan(8);
  });

  it('08 (HDR10) thumbnails are tone-mapped like the reference frame, not washed out', async () => {
    const { result, cues, file: out } = await sprite(file('08_'), { count: 1, mode: 'exact', tileWidth: 320 });
    const c = cues[0]!;
    const { reference, naive } = await hdrReferences(file('08_'), 'smpte2084', c.w, c.h, result.duration / 2);
    const ours = await look(out(c.file), cell(c));
    expect(Math.abs(ours.luma - reference.luma)).toBeLessThan(8);
    expect(ours.contrast).toBeGreaterThan(naive.contrast + 8);
  });

  it.each(['bad_01', 'bad_02', 'bad_03'])('%s fails with a clear error', async (prefix) => {
    const err = (await spriteRunner.run(taskContext(file(prefix), { interval: 1 }).ctx).catch((e: unknown) => e)) as VidfleetError;
    expect(err).toBeInstanceOf(VidfleetError);
    expect(['NOT_A_VIDEO', 'INPUT_CORRUPT']).toContain(err.code);
    expect(err.message).toContain(basename(file(prefix)));
  });
});
