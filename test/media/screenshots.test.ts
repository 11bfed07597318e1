import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateParams } from '../../src/coordinator/params.js';
import { screenshotsRunner } from '../../src/media/kinds/screenshots.js';
import { batchSize, planShots, reusableShots } from '../../src/media/kinds/screenshots-plan.js';
import { probeFile } from '../../src/media/probe.js';
import { VidfleetError, type ScreenshotsResult } from '../../src/protocol/index.js';
import { cancelWhileFfmpegRuns, makeBlackClip, makeBlackStartClip, makeClip, makeInterlacedClip, makeTextFile, makeTruncatedMp4, taskContext } from '../helpers/clips.js';
import { combing, hdrReferences, imageInfo, look, mad, raw, spread } from '../helpers/images.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR, realMediaFiles } from '../helpers/shared-media.js';

async function shots(input: string, params: Record<string, unknown> = {}, resumeData: unknown = null) {
  const rec = taskContext(input, params, resumeData);
  const result = (await screenshotsRunner.run(rec.ctx)) as ScreenshotsResult;
  const file = (name: string) => join(rec.ctx.workDir, name);
  return { result, rec, file };
}

async function shotsError(input: string, params: Record<string, unknown> = {}): Promise<VidfleetError> {
  const rec = taskContext(input, params);
  const err = await screenshotsRunner.run(rec.ctx).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VidfleetError);
  return err as VidfleetError;
}

describe('screenshots params', () => {
  it('accepts count or times with the options, and refuses both at once or out-of-range values', () => {
    expect(validateParams('screenshots', { count: 5, mode: 'exact', skipBlank: true, format: 'png', width: 320 })).toMatchObject({ count: 5 });
    expect(validateParams('screenshots', { times: [0, 1.5, 90] })).toMatchObject({ times: [0, 1.5, 90] });
    const refuse = (params: Record<string, unknown>, message: RegExp) => {
      const err = (() => {
        try {
          validateParams('screenshots', params);
        } catch (e) {
          return e as VidfleetError;
        }
        return null;
      })();
      expect(err?.code).toBe('INVALID_PARAMS');
      expect(err?.message).toMatch(message);
    };
    refuse({ count: 3, times: [1] }, /either "count".*or "times"/);
    refuse({ count: 101 }, /"count"/);
    refuse({ times: [] }, /"times"/);
    refuse({ times: [-1] }, /"times\.0"/);
    refuse({ mode: 'fast' }, /"mode"/);
  });
});

describe('screenshot planning', () => {
  it('spreads count over the middles of equal parts and keeps the last seek inside the video', () => {
    const plan = planShots({ count: 4 }, 10, 25, 'x.mp4');
    expect(plan.map((p) => p.time)).toEqual([1.25, 3.75, 6.25, 8.75]);
    expect(plan.map((p) => p.blankStep)).toEqual([0.625, 0.625, 0.625, 0.3125]);
    expect(planShots({ times: [9.99, 0] }, 10, 25, 'x.mp4')).toMatchObject([
      { index: 1, time: 9.99, seekTime: 9.92 },
      { index: 2, time: 0, seekTime: 0 },
    ]);
  });

  it('names every time past the end and the duration', () => {
    expect(() => planShots({ times: [1, 12, 30] }, 10, 25, 'x.mp4')).toThrow(/12\.000 s, 30\.000 s are past the end of x\.mp4: its video is 10\.000 s long/);
  });

  it('sizes batches by decoded pixels', () => {
    expect(batchSize('keyframe', 1920, 1080)).toBe(8);
    expect(batchSize('exact', 1920, 1080)).toBe(5);
    expect(batchSize('keyframe', 3840, 2160)).toBe(3);
    expect(batchSize('exact', 7680, 4320)).toBe(1);
  });

  it('reuses only checkpoint entries that match this plan, mode and format', () => {
    const plan = planShots({ count: 3 }, 9, 25, 'x.mp4');
    const entry = (index: number, time: number) => ({ index, time, actualTime: time, artifact: `screenshot-00${index}.jpg`, width: 320, height: 240 });
    const cp = { version: 1, mode: 'keyframe', format: 'jpeg', done: [entry(1, 1.5), entry(2, 4), entry(3, 7.5), { index: 'x' }] };
    expect([...reusableShots(cp, plan, 'keyframe', 'jpeg').keys()]).toEqual([1, 3]);
    expect(reusableShots(cp, plan, 'exact', 'jpeg').size).toBe(0);
    expect(reusableShots(cp, plan, 'keyframe', 'png').size).toBe(0);
    expect(reusableShots('garbage', plan, 'keyframe', 'jpeg').size).toBe(0);
  });
});

describe('screenshots of synthetic clips', () => {
  it('takes 10 evenly spaced keyframes by default, uploading and checkpointing each', async () => {
    const { result, rec, file } = await shots(await makeClip({ duration: 10 }));
    expect(result).toMatchObject({ mode: 'keyframe', format: 'jpeg', duration: 10, made: 10, reused: 0, moved: [] });
    expect(result.screenshots.map((s) => s.time)).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5]);
    // A keyframe every second: each lands on the keyframe before its time.
    expect(result.screenshots.map((s) => s.actualTime)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rec.artifacts.map((a) => a.name)).toEqual(result.screenshots.map((s) => s.artifact));
    expect(rec.artifacts[0]).toEqual({ name: 'screenshot-001.jpg', path: file('screenshot-001.jpg'), contentType: 'image/jpeg' });
    expect(rec.checkpoints).toHaveLength(10);
    expect(rec.checkpoints.at(-1)).toEqual({ version: 1, mode: 'keyframe', format: 'jpeg', done: result.screenshots });
    const progress = rec.progress.map((p) => p.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(1);
    for (const s of result.screenshots) {
      expect(await imageInfo(file(s.artifact))).toEqual({ codec: 'mjpeg', width: 320, height: 240 });
      expect(await spread(file(s.artifact))).toBeGreaterThan(8);
    }
    // Distinct keyframes, distinct pictures (testsrc2 moves).
    const first = await look(file('screenshot-001.jpg'));
    expect(mad(first.rgb, (await look(file('screenshot-006.jpg'))).rgb)).toBeGreaterThan(2);
  });

  it('exact mode takes the frame at each time, in the order given, scaled, as WebP or PNG', async () => {
    const clip = await makeClip({ duration: 4 });
    const { result, rec, file } = await shots(clip, { times: [3.3, 0.7], mode: 'exact', width: 160, format: 'webp' });
    expect(result.screenshots.map((s) => [s.index, s.time, s.artifact, s.width, s.height])).toEqual([
      [1, 3.3, 'screenshot-001.webp', 160, 120],
      [2, 0.7, 'screenshot-002.webp', 160, 120],
    ]);
    for (const s of result.screenshots) expect(Math.abs((s.actualTime ?? -1) - s.time)).toBeLessThan(0.04 + 1e-6);
    expect(rec.artifacts[0]?.contentType).toBe('image/webp');
    expect((await imageInfo(file('screenshot-001.webp'))).codec).toBe('webp');
    const png = await shots(clip, { times: [1], mode: 'exact', height: 60, format: 'png' });
    expect(png.result.screenshots[0]).toMatchObject({ artifact: 'screenshot-001.png', width: 80, height: 60 });
    expect(await imageInfo(png.file('screenshot-001.png'))).toEqual({ codec: 'png', width: 80, height: 60 });
    expect(png.rec.artifacts[0]?.contentType).toBe('image/png');
  });

  it('a time past the end is TIME_OUT_OF_RANGE naming the duration, before any image is made', async () => {
    const rec = taskContext(await makeClip({ duration: 2 }), { times: [1, 5] });
    const err = await screenshotsRunner.run(rec.ctx).catch((e: unknown) => e as VidfleetError);
    expect(err).toMatchObject({ code: 'TIME_OUT_OF_RANGE' });
    expect((err as VidfleetError).message).toMatch(/5\.000 s is past the end of .*: its video is 2\.000 s long/);
    expect(rec.artifacts).toEqual([]);
  });

  it.each(['keyframe', 'exact'] as const)('skipBlank (%s) moves past black frames and reports which moved', async (mode) => {
    const clip = await makeBlackStartClip();
    const plain = await shots(clip, { times: [0.5, 3], mode });
    expect(await spread(plain.file('screenshot-001.jpg'))).toBeLessThanOrEqual(8);
    const { result, rec, file } = await shots(clip, { times: [0.5, 3], mode, skipBlank: true });
    expect(result.moved).toEqual([1]);
    expect(result.screenshots[0]).toMatchObject({ index: 1, time: 0.5, movedFromBlank: true });
    expect(result.screenshots[0]?.actualTime).toBeGreaterThanOrEqual(2);
    expect(result.screenshots[0]?.actualTime).toBeLessThan(3);
    expect(result.screenshots[1]).not.toHaveProperty('movedFromBlank');
    expect(await spread(file('screenshot-001.jpg'))).toBeGreaterThan(8);
    expect(rec.logs.join('\n')).toMatch(/#1 at 0\.500 s is blank; took 2\.\d+ s instead/);
    expect(rec.artifacts.map((a) => a.name)).toEqual(['screenshot-001.jpg', 'screenshot-002.jpg']);
  });

  it.each(['keyframe', 'exact'] as const)('keeps a blank frame, flagged, when every try is blank (%s)', async (mode) => {
    const { result, rec } = await shots(await makeBlackClip(), { count: 2, mode, skipBlank: true });
    expect(result.screenshots.map((s) => s.blank)).toEqual([true, true]);
    expect(result.moved).toEqual([]);
    expect(rec.logs.join('\n')).toMatch(/#1 at 0\.750 s is blank; no better frame within 3 tries, kept it/);
  });

  it('shows anamorphic and rotated video the way a player does', async () => {
    const ana = await makeClip({ width: 720, height: 576, sar: '64:45', duration: 1 });
    expect((await shots(ana, { count: 1 })).result.screenshots[0]).toMatchObject({ width: 1024, height: 576 });
    expect((await shots(ana, { count: 1, width: 512 })).result.screenshots[0]).toMatchObject({ width: 512, height: 288 });
    const turned = await shots(await makeClip({ rotation: 90 }), { count: 2, mode: 'exact' });
    expect(turned.result.screenshots.map((s) => [s.width, s.height])).toEqual([
      [240, 320],
      [240, 320],
    ]);
  });

  it('deinterlaces interlaced video (no combing), at its display aspect', async () => {
    const clip = await makeInterlacedClip();
    expect((await probeFile(clip)).streams[0]?.video).toMatchObject({ interlaced: true, fieldOrder: 'tt' });
    const { result, file } = await shots(clip, { times: [1.5], mode: 'exact', format: 'png' });
    const s = result.screenshots[0];
    expect(s).toMatchObject({ width: 1024, height: 576 });
    const woven = await combing(clip, 'scale=1024:576', ['-ss', String(s?.actualTime)]);
    const ours = await combing(file('screenshot-001.png'));
    expect(ours).toBeLessThan(woven / 3);
  });

  it('a later attempt takes only what the checkpoint does not list, and returns the full list', async () => {
    const clip = await makeClip({ duration: 10 });
    // First attempt: the 4th upload fails (say the coordinator went away).
    const first = taskContext(clip, { count: 6, mode: 'exact' });
    const upload = first.ctx.emitArtifact;
    first.ctx.emitArtifact = async (a) => {
      if (first.artifacts.length === 3) throw new VidfleetError('STORAGE_FAILED', 'upload refused');
      await upload(a);
    };
    await expect(screenshotsRunner.run(first.ctx)).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    const checkpoint = first.checkpoints.at(-1) as { done: Array<{ index: number }> };
    expect(checkpoint.done.map((d) => d.index)).toEqual([1, 2, 3]);

    const { result, rec } = await shots(clip, { count: 6, mode: 'exact' }, checkpoint);
    expect(rec.artifacts.map((a) => a.name)).toEqual(['screenshot-004.jpg', 'screenshot-005.jpg', 'screenshot-006.jpg']);
    expect(rec.logs.join('\n')).toMatch(/3 of 6 were stored by an earlier attempt/);
    expect(result).toMatchObject({ made: 3, reused: 3 });
    expect(result.screenshots.map((s) => s.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(result.screenshots.slice(0, 3)).toEqual(checkpoint.done);
    expect(rec.checkpoints.at(-1)).toMatchObject({ done: result.screenshots });
  });

  it('does not redo images a hand-written checkpoint lists, even when their files are gone', async () => {
    const clip = await makeClip({ duration: 4 });
    const stored = { index: 2, time: 3, actualTime: 3, artifact: 'screenshot-002.jpg', width: 320, height: 240 };
    const { result, rec } = await shots(clip, { times: [1, 3] }, { version: 1, mode: 'keyframe', format: 'jpeg', done: [stored] });
    expect(rec.artifacts.map((a) => a.name)).toEqual(['screenshot-001.jpg']);
    expect(result.screenshots[1]).toEqual(stored);
    expect(result).toMatchObject({ made: 1, reused: 1 });
  });

  it('cancel stops ffmpeg at once and rethrows the reason', async () => {
    const { rec, reason, rejectedWith, ffmpegLeft } = await cancelWhileFfmpegRuns((ctx) => screenshotsRunner.run(ctx), await makeInterlacedClip(), { count: 100, mode: 'exact' });
    expect(rejectedWith).toBe(reason);
    expect(ffmpegLeft).toBe(false);
    expect(rec.artifacts.length).toBeLessThan(100);
  });

  it.each([{}, { mode: 'exact' }])('rejects bad inputs cleanly (%j)', async (params) => {
    expect((await shotsError(await makeTextFile('list.txt'), params)).code).toBe('NOT_A_VIDEO');
    expect((await shotsError('/nonexistent/clip.mp4', params)).code).toBe('INPUT_NOT_FOUND');
    expect((await shotsError(await makeTruncatedMp4(), params)).code).toBe('INPUT_CORRUPT');
    expect((await shotsError(await makeClip({ video: false, audio: true }), params)).code).toBe('NOT_A_VIDEO');
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('screenshots on the real-world corpus', () => {
  const { good, bad } = realMediaFiles();
  const file = (prefix: string) => join(REAL_MEDIA_DIR, good.concat(bad).map((f) => basename(f)).find((f) => f.startsWith(prefix)) ?? prefix);

  /**
   * Not blank, unless the source frame it was taken from is (20 in the corpus is black
   * throughout; Big Buck Bunny's first keyframe is its black title card).
   */
  async function expectNotBlankUnlessSourceIs(image: string, source: string, at: number | null): Promise<void> {
    if ((await spread(image)) > 8) return;
    const frame = await raw(source, 'scale=16:16:flags=area,format=gray', ['-ss', String(at ?? 0)]);
    expect(Math.max(...frame) - Math.min(...frame)).toBeLessThanOrEqual(8);
  }

  it.each(good.flatMap((f) => (['keyframe', 'exact'] as const).map((mode) => [basename(f), mode, f] as const)))('%s (%s) gives 3 images the way a player shows them', async (_name, mode, path) => {
    const { result, file: out } = await shots(path, { count: 3, mode, width: 160 });
    expect(result.screenshots).toHaveLength(3);
    const probe = await probeFile(path);
    const v = probe.streams[probe.primaryVideo ?? -1]?.video;
    if (!v) throw new Error('no video');
    for (const s of result.screenshots) {
      expect(await imageInfo(out(s.artifact))).toEqual({ codec: 'mjpeg', width: 160, height: s.height });
      expect(s.height).toBeCloseTo((160 * v.displayHeight) / v.displayWidth, -0.5); // within a pixel
      expect(s.actualTime).not.toBeNull();
      await expectNotBlankUnlessSourceIs(out(s.artifact), path, s.actualTime);
    }
  });

  it.each(['03_', '04_', '05_', '06_'])('%s (rotated phone clip) gives portrait images', async (prefix) => {
    for (const mode of ['keyframe', 'exact']) {
      const { result } = await shots(file(prefix), { count: 2, mode });
      for (const s of result.screenshots) expect(s.height).toBeGreaterThan(s.width);
    }
  });

  it('19 (576i, SAR 64:45) comes out deinterlaced at 16:9', async () => {
    const { result, file: out } = await shots(file('19_'), { times: [1.5], mode: 'exact', format: 'png' });
    const s = result.screenshots[0];
    expect(s).toMatchObject({ width: 1024, height: 576 });
    // Broadcast content is mostly still, so compare with both versions of that frame rather than a threshold.
    const at = ['-ss', String(s?.actualTime)];
    const ours = await raw(out('screenshot-001.png'), 'format=gray');
    const woven = await raw(file('19_'), 'scale=1024:576,format=gray', at);
    const deinterlaced = await raw(file('19_'), 'bwdif=mode=send_frame:parity=tff,scale=1024:576,format=gray', at);
    expect(mad(ours, deinterlaced)).toBeLessThan(mad(ours, woven) / 2);
    expect(await combing(out('screenshot-001.png'))).toBeLessThan(await combing(file('19_'), 'scale=1024:576', at));
  });

  it('11 and 12 (no usable duration) are measured, so evenly spaced images still spread', async () => {
    const { result, rec } = await shots(file('12_'), { count: 3 });
    expect(rec.logs.join('\n')).toMatch(/declares no duration; reading its packet timestamps/);
    expect(result.duration).toBeGreaterThan(30);
    expect(result.duration).toBeLessThan(40);
    expect(result.screenshots.map((s) => Math.round(s.time))).toEqual([6, 18, 29]);
    const eleven = (await shots(file('11_'), { count: 2 })).result;
    expect(eleven.duration).toBeGreaterThan(0.9);
    expect(eleven.duration).toBeLessThan(1.1);
  });

  // Tone mapping is checked against an independent reference: zscale with every colour
  // parameter spelled out (not read from the frame), hable, BT.709; and against the naive
  // conversion that ignores the transfer, which looks grey and flat for PQ and pale for HLG.
  it.each([
    ['06_', 'arib-std-b67'],
    ['08_', 'smpte2084'],
    ['09_', 'smpte2084'],
    ['17_', 'smpte2084'], // untagged: taken as PQ
  ])('%s (HDR, %s) is tone-mapped close to the SDR reference and unlike the naive conversion', async (prefix, transfer) => {
    // 161 px wide: odd sizes, which zimg refuses in 4:2:0.
    const { result, file: out } = await shots(file(prefix), { times: [0.5], mode: 'exact', width: 161 });
    const s = result.screenshots[0];
    if (!s) throw new Error('no screenshot');
    const { reference, naive } = await hdrReferences(file(prefix), transfer, s.width, s.height, s.actualTime ?? 0);
    const ours = await look(out(s.artifact));
    expect(Math.abs(ours.luma - reference.luma)).toBeLessThan(8);
    expect(mad(ours.rgb, reference.rgb)).toBeLessThan(6);
    expect(mad(ours.rgb, naive.rgb)).toBeGreaterThan(mad(ours.rgb, reference.rgb));
    if (transfer === 'smpte2084') {
      expect(ours.contrast).toBeGreaterThan(naive.contrast + 8); // PQ shown naively is washed out
      expect(mad(ours.rgb, naive.rgb)).toBeGreaterThan(15);
    } else {
      expect(ours.saturation).toBeGreaterThan(naive.saturation * 1.5); // HLG shown naively is pale
    }
  });

  it.each(['bad_01', 'bad_02', 'bad_03'])('%s fails with a clear error in both modes', async (prefix) => {
    for (const mode of ['keyframe', 'exact']) {
      const err = await shotsError(file(prefix), { count: 3, mode });
      expect(['NOT_A_VIDEO', 'INPUT_CORRUPT']).toContain(err.code);
      expect(err.message).toContain(basename(file(prefix)));
      expect(err.message).toMatch(/damaged|truncated|not a usable video|no decodable video/);
    }
  });

  it('bad_04 (video stamped 1-2 ms apart) gives images from its 0.05 s of video; a time past that is TIME_OUT_OF_RANGE', async () => {
    const { result, file: out } = await shots(file('bad_04'), { count: 2 });
    expect(result.duration).toBe(0.05);
    await expectNotBlankUnlessSourceIs(out('screenshot-001.jpg'), file('bad_04'), result.screenshots[0]?.actualTime ?? 0);
    const err = await shotsError(file('bad_04'), { times: [0.5] });
    expect(err.code).toBe('TIME_OUT_OF_RANGE');
    expect(err.message).toMatch(/0\.500 s is past the end .*video is 0\.050 s long/);
  });
});
