import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { thumbnailRunner } from '../../src/media/kinds/thumbnail.js';
import { probeFile } from '../../src/media/probe.js';
import { ProcessAbortedError, runProcess } from '../../src/media/process.js';
import { VidfleetError, type ThumbnailResult } from '../../src/protocol/index.js';
import { CLIP_DIR, makeClip, makeFlashClip, makeInterlacedClip, makeTextFile, makeTruncatedMp4, startMediaServer, taskContext, type MediaServer } from '../helpers/clips.js';
import { look, mad, raw } from '../helpers/images.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR, realMediaFiles } from '../helpers/shared-media.js';

const run = promisify(execFile);

async function imageInfo(path: string): Promise<{ codec: string; width: number; height: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', path]);
  const s = (JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; height: number }> }).streams[0];
  if (!s) throw new Error(`${path} has no image stream`);
  return { codec: s.codec_name, width: s.width, height: s.height };
}

/** The image as w×h 8-bit grey pixels, after an optional filter. */
async function grey(path: string, w: number, h: number, filter = 'null'): Promise<Buffer> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-vf', `${filter},scale=${w}:${h}:flags=area,format=gray`, '-f', 'rawvideo', '-'], { encoding: 'buffer' });
  return stdout;
}

const spread = (px: Buffer) => Math.max(...px) - Math.min(...px);

/** More than a flat colour: a dark fade-in still spreads wider than 8 grey levels at 16x16. */
async function expectNotBlank(path: string): Promise<void> {
  expect(spread(await grey(path, 16, 16))).toBeGreaterThan(8);
}

/** Not blank, unless the source is blank at every frame (20 in the corpus is black throughout). */
async function expectNotBlankUnlessSourceIs(image: string, source: string): Promise<void> {
  if (spread(await grey(image, 16, 16)) > 8) return;
  const frames = await grey(source, 16, 16);
  for (let i = 0; i < frames.length; i += 256) expect(spread(frames.subarray(i, i + 256))).toBeLessThanOrEqual(8);
}

const meanDiff = (a: Buffer, b: Buffer) => a.reduce((sum, v, i) => sum + Math.abs(v - (b[i] ?? 0)), 0) / a.length;

async function thumb(input: string, params: Record<string, unknown> = {}) {
  const rec = taskContext(input, params);
  const result = (await thumbnailRunner.run(rec.ctx)) as ThumbnailResult;
  const file = rec.artifacts[0]?.path ?? '';
  return { result, rec, file, image: await imageInfo(file) };
}

async function thumbError(input: string, params: Record<string, unknown> = {}): Promise<VidfleetError> {
  const rec = taskContext(input, params);
  const err = await thumbnailRunner.run(rec.ctx).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VidfleetError);
  expect(rec.artifacts).toEqual([]);
  return err as VidfleetError;
}

describe('thumbnail of synthetic clips', () => {
  it('takes a JPEG at 10% by default, emits it and reports its real size', async () => {
    const { result, rec, file, image } = await thumb(await makeClip({ duration: 2, audio: true }));
    expect(result).toEqual({ time: 0.2, width: 320, height: 240, format: 'jpeg', artifact: 'thumbnail.jpg' });
    expect(rec.artifacts).toEqual([{ name: 'thumbnail.jpg', path: join(rec.ctx.workDir, 'thumbnail.jpg'), contentType: 'image/jpeg' }]);
    expect(image).toEqual({ codec: 'mjpeg', width: 320, height: 240 });
    expect(rec.progress.at(-1)?.progress).toBe(1);
    await expectNotBlank(file);
  });

  it.each([
    [{ width: 160 }, 160, 120],
    [{ height: 60 }, 80, 60],
    [{ width: 100, height: 100 }, 100, 75],
    [{ width: 400, height: 150 }, 200, 150],
    [{ width: 33 }, 33, 25],
  ])('scales %j to %ix%i keeping the aspect', async (params, w, h) => {
    const { result, image } = await thumb(await makeClip(), { time: 0.5, ...params });
    expect([result.width, result.height]).toEqual([w, h]);
    expect([image.width, image.height]).toEqual([w, h]);
  });

  it.each([
    [90, {}, 240, 320],
    [270, {}, 240, 320],
    [180, {}, 320, 240],
    [90, { width: 120 }, 120, 160],
  ] as const)('honours a %i° rotation (%j) → %ix%i', async (rotation, params, w, h) => {
    const { image } = await thumb(await makeClip({ rotation }), { time: 1, ...params });
    expect([image.width, image.height]).toEqual([w, h]);
  });

  it('turns a 90° clip clockwise, as a player does', async () => {
    const upright = (await thumb(await makeClip(), { time: 1 })).file;
    const turned = (await thumb(await makeClip({ rotation: 90 }), { time: 1 })).file;
    const got = await grey(turned, 24, 32);
    const clockwise = await grey(upright, 24, 32, 'transpose=clock');
    const anticlockwise = await grey(upright, 24, 32, 'transpose=cclock');
    expect(meanDiff(got, clockwise)).toBeLessThan(meanDiff(got, anticlockwise) / 2);
  });

  it('shows anamorphic video at its display aspect with square pixels', async () => {
    const clip = await makeClip({ width: 720, height: 576, sar: '64:45', duration: 1 });
    expect((await thumb(clip)).image).toMatchObject({ width: 1024, height: 576 });
    expect((await thumb(clip, { width: 512 })).image).toMatchObject({ width: 512, height: 288 });
  });

  it('writes WebP when asked', async () => {
    const { result, rec, file, image } = await thumb(await makeClip(), { format: 'webp', width: 200 });
    expect(result).toMatchObject({ format: 'webp', artifact: 'thumbnail.webp', width: 200, height: 150 });
    expect(rec.artifacts[0]?.contentType).toBe('image/webp');
    expect(image.codec).toBe('webp');
    await expectNotBlank(file);
  });

  it('maps quality onto file size', async () => {
    const clip = await makeClip();
    const low = await thumb(clip, { time: 1, quality: 5 });
    const high = await thumb(clip, { time: 1, quality: 98 });
    expect((await stat(low.file)).size).toBeLessThan((await stat(high.file)).size);
  });

  it('fraction 0 and 1 give the first and a last frame', async () => {
    const clip = await makeClip({ duration: 2 });
    expect((await thumb(clip, { fraction: 0 })).result.time).toBe(0);
    const end = (await thumb(clip, { fraction: 1 })).result;
    expect(end.time).toBeGreaterThan(1.8);
    expect(end.time).toBeLessThan(2);
  });

  it('a fixed time runs ffmpeg once and never probes', async () => {
    const { rec } = await thumb(await makeClip(), { time: 1 });
    expect(rec.logs.filter((l) => l.startsWith('ffmpeg '))).toHaveLength(1);
    expect(rec.progress.map((p) => p.message)).not.toContain('probed');
  });

  it('falls back to the first frame, with a warning, when the video ends long before the container says', async () => {
    // 1 s of video, 5 s of audio, and the per-stream DURATION tags renamed so only the
    // container's 5 s is known: fraction 0.5 lands where there is no video.
    const mkv = join(CLIP_DIR, 'short-video.mkv');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-f', 'lavfi', '-i', 'sine=duration=5', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'ac3', mkv]);
    const bytes = await readFile(mkv);
    await writeFile(mkv, Buffer.from(bytes.toString('latin1').replaceAll('DURATION', 'DURATIOX'), 'latin1'));
    const { result, rec } = await thumb(mkv, { fraction: 0.5 });
    expect(result.time).toBe(0);
    expect(rec.logs.join('\n')).toMatch(/no video frame at 2\.5\d* s .*used the first frame/);
  });

  it('a time past the end is TIME_OUT_OF_RANGE and says the duration', async () => {
    const err = await thumbError(await makeClip({ duration: 2 }), { time: 10 });
    expect(err.code).toBe('TIME_OUT_OF_RANGE');
    expect(err.message).toMatch(/10\.000 s is past the last video frame.*2\.000 s long/);
  });

  it.each([{}, { time: 1 }])('rejects bad inputs cleanly (%j)', async (params) => {
    expect((await thumbError(await makeTextFile('list.txt'), params)).code).toBe('NOT_A_VIDEO');
    expect((await thumbError(await makeTextFile('list.mp4'), params)).code).toBe('NOT_A_VIDEO');
    expect((await thumbError('/nonexistent/clip.mp4', params)).code).toBe('INPUT_NOT_FOUND');
    const cut = await thumbError(await makeTruncatedMp4(), params);
    expect(cut.code).toBe('INPUT_CORRUPT');
    expect(cut.message).toMatch(/moov atom not found/);
    expect((await thumbError(await makeClip({ video: false, audio: true }), params)).code).toBe('NOT_A_VIDEO');
  });

  it('reports a missing ffmpeg as FFMPEG_MISSING', async () => {
    const clip = await makeClip();
    const before = process.env.VIDFLEET_FFMPEG;
    process.env.VIDFLEET_FFMPEG = '/nonexistent/ffmpeg';
    try {
      const err = await thumbError(clip, { time: 1 });
      expect(err.code).toBe('FFMPEG_MISSING');
      expect(err.message).toMatch(/apt-get install -y ffmpeg/);
    } finally {
      if (before === undefined) delete process.env.VIDFLEET_FFMPEG;
      else process.env.VIDFLEET_FFMPEG = before;
    }
  });
});

describe('thumbnail: still chain (HDR, interlacing, mode best, PNG)', () => {
  const ffmpegRuns = (logs: string[]) => logs.filter((l) => l.startsWith('ffmpeg ')).length;

  it('mode best skips a one-frame flash that a fixed time lands on', async () => {
    const clip = await makeFlashClip();
    const fixed = await thumb(clip, { time: 1 });
    expect(spread(await grey(fixed.file, 16, 16))).toBeLessThanOrEqual(8);
    const { result, file, rec } = await thumb(clip, { time: 1, mode: 'best' });
    expect(result.requestedTime).toBe(1);
    expect(result.time).toBeGreaterThanOrEqual(0);
    expect(result.time).toBeLessThan(2);
    expect(result.time).not.toBe(1);
    await expectNotBlank(file);
    expect(rec.logs.join('\n')).toMatch(/thumbnail=n=50/);
  });

  it('mode best by fraction keeps the image size and format rules', async () => {
    const { result, image } = await thumb(await makeClip({ duration: 4 }), { mode: 'best', width: 160, format: 'webp' });
    expect(result).toMatchObject({ requestedTime: 0.4, width: 160, height: 120, format: 'webp' });
    expect(image.codec).toBe('webp');
  });

  it('writes PNG', async () => {
    const { result, rec, image, file } = await thumb(await makeClip(), { time: 1, format: 'png', width: 100 });
    expect(result).toMatchObject({ format: 'png', artifact: 'thumbnail.png', width: 100, height: 75 });
    expect(rec.artifacts[0]?.contentType).toBe('image/png');
    expect(image).toEqual({ codec: 'png', width: 100, height: 75 });
    await expectNotBlank(file);
  });

  it('deinterlaces at a fixed time with the one ffmpeg run (the deinterlacer follows frame flags)', async () => {
    const clip = await makeInterlacedClip();
    const { file, rec, image } = await thumb(clip, { time: 1.52 });
    expect(ffmpegRuns(rec.logs)).toBe(1);
    expect(image).toMatchObject({ width: 1024, height: 576 });
    const ours = await raw(file, 'format=gray');
    const woven = await raw(clip, 'scale=1024:576,format=gray', ['-ss', '1.52']);
    const deinterlaced = await raw(clip, 'bwdif=mode=send_frame:parity=tff,scale=1024:576,format=gray', ['-ss', '1.52']);
    expect(mad(ours, deinterlaced)).toBeLessThan(mad(ours, woven) / 2);
  });
});

describe('stopping ffmpeg', () => {
  let server: MediaServer;
  beforeAll(async () => {
    server = await startMediaServer();
  });
  afterAll(() => server.close());

  const running = async (token: string): Promise<boolean> => (await run('ps', ['-eo', 'args'])).stdout.includes(token);

  it('abort kills a thumbnail stuck on a stalled download and rethrows the reason', async () => {
    const token = randomUUID();
    const rec = taskContext(`${server.url}/stall/${token}.mp4`, { time: 1 });
    const outcome = thumbnailRunner.run(rec.ctx).then(
      () => null,
      (e: unknown) => e,
    );
    while (!(await running(token))) await new Promise((r) => setTimeout(r, 50));
    const reason = new VidfleetError('TASK_NOT_RUNNABLE', 'Attempt stopped: cancel');
    rec.controller.abort(reason);
    expect(await outcome).toBe(reason);
    expect(await running(token)).toBe(false);
    expect(rec.artifacts).toEqual([]);
  });

  it('does not start at all when already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(runProcess('ffmpeg', ['-version'], { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('follows SIGTERM with SIGKILL for a child that ignores it', async () => {
    const ac = new AbortController();
    let pid = 0;
    const child = runProcess(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"], {
      signal: ac.signal,
      killGraceMs: 200,
      onStdout: () => ac.abort('test'),
      onSpawn: (p) => (pid = p),
    });
    const err = await child.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessAbortedError);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('stops a child that outlives its timeout with FFMPEG_FAILED', async () => {
    const err = await runProcess(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { timeoutMs: 200 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(VidfleetError);
    expect((err as VidfleetError).code).toBe('FFMPEG_FAILED');
    expect((err as VidfleetError).message).toMatch(/did not finish/);
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('thumbnail on the real-world corpus', () => {
  const { good, bad } = realMediaFiles();
  const file = (prefix: string) => join(REAL_MEDIA_DIR, good.concat(bad).map((f) => basename(f)).find((f) => f.startsWith(prefix)) ?? prefix);

  it.each(good.map((f) => [basename(f), f]))('%s gives a non-blank image the way a player shows it', async (_name, path) => {
    const { result, file: out, image } = await thumb(path);
    expect([image.width, image.height]).toEqual([result.width, result.height]);
    const probe = await probeFile(path);
    const v = probe.streams[probe.primaryVideo ?? -1]?.video;
    if (!v) throw new Error('no video');
    expect(image.height > image.width).toBe(v.displayHeight > v.displayWidth);
    expect(image.width / image.height).toBeCloseTo(v.displayWidth / v.displayHeight, 1);
    await expectNotBlankUnlessSourceIs(out, path);
  });

  it.each(['03_', '04_'])('%s (rotated phone clip) gives a portrait thumbnail, by fraction and at a fixed time', async (prefix) => {
    for (const params of [{}, { time: 0.1 }, { time: 0.1, width: 180 }]) {
      const { image } = await thumb(file(prefix), params);
      expect(image.height).toBeGreaterThan(image.width);
    }
    expect((await thumb(file('03_'))).image).toMatchObject({ width: 320, height: 568 });
  });

  it.each(['03_', '09_', '16_', '19_'])('%s as WebP', async (prefix) => {
    const { image, file: out } = await thumb(file(prefix), { format: 'webp', width: 160 });
    expect(image).toMatchObject({ codec: 'webp', width: 160 });
    await expectNotBlank(out);
  });

  it.each([
    ['06_', 'arib-std-b67', 'HLG'],
    ['08_', 'smpte2084', 'HDR10'],
    ['17_', 'smpte2084', 'untagged 10-bit BT.2020'],
  ])('%s (%s) at a fixed time: the first run\'s log shows HDR, a second run tone-maps it, no ffprobe', async (prefix, transfer, said) => {
    const { rec, file: out, image } = await thumb(file(prefix), { time: 0.5, width: 241 }); // odd sizes too
    expect(rec.logs.filter((l) => l.startsWith('ffmpeg '))).toHaveLength(2);
    expect(rec.logs.join('\n')).toContain(`the video is ${said}`);
    expect(rec.progress.map((p) => p.message)).not.toContain('probed');
    const reference = await look(
      file(prefix),
      `scale=${image.width}:${image.height},format=yuv444p10le,zscale=tin=${transfer}:min=bt2020nc:pin=bt2020:rin=limited:t=linear:npl=100:p=bt2020:m=bt2020nc,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv444p`,
      ['-ss', '0.5'],
    );
    const ours = await look(out);
    expect(Math.abs(ours.luma - reference.luma)).toBeLessThan(8);
    expect(mad(ours.rgb, reference.rgb)).toBeLessThan(8);
  });

  it('an SDR phone clip at a fixed time stays one ffmpeg run', async () => {
    const { rec } = await thumb(file('03_'), { time: 1 });
    expect(rec.logs.filter((l) => l.startsWith('ffmpeg '))).toHaveLength(1);
  });

  it('11 and 12 (unknown duration) fall back to the first frame with a warning', async () => {
    for (const prefix of ['11_', '12_']) {
      const { result, rec } = await thumb(file(prefix), { fraction: 0.5 });
      expect(result.time).toBe(0);
      expect(rec.logs.join('\n')).toMatch(/duration .* is unknown.*first frame/);
    }
  });

  it.each(['bad_01', 'bad_02', 'bad_03'])('%s fails with a clear error, by fraction and at a fixed time', async (prefix) => {
    for (const params of [{}, { time: 1 }]) {
      const err = await thumbError(file(prefix), params);
      expect(['NOT_A_VIDEO', 'INPUT_CORRUPT']).toContain(err.code);
      expect(err.message).toContain(basename(file(prefix)));
      expect(err.message).toMatch(/damaged|truncated|not a usable video|no decodable video/);
    }
  });

  it('bad_04 (video stamped 1-2 ms apart) is decodable: a thumbnail by fraction, TIME_OUT_OF_RANGE past its 0.05 s of video', async () => {
    const { result, file: out } = await thumb(file('bad_04'));
    expect(result).toMatchObject({ width: 1080, height: 720 });
    await expectNotBlank(out);
    const err = await thumbError(file('bad_04'), { time: 0.5 });
    expect(err.code).toBe('TIME_OUT_OF_RANGE');
    expect(err.message).toMatch(/video is 0\.050 s long.*declares 1\.240 s/);
  });
});
