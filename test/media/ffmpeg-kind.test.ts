// The raw ffmpeg kind with real ffmpeg: remux and HLS outputs become artifacts, ffprobe output
// becomes the result, escapes and list-following inputs are refused, failures say why, cancel
// stops the child.
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertOutputCount, ffmpegRunner, MAX_OUTPUT_FILES } from '../../src/media/kinds/ffmpeg.js';
import type { MountPoint } from '../../src/media/logical-paths.js';
import { probeFile } from '../../src/media/probe.js';
import { VidfleetError, type FfmpegResult } from '../../src/protocol/index.js';
import { CLIP_DIR, makeClip, taskContext } from '../helpers/clips.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR, realMediaFiles } from '../helpers/shared-media.js';

const run = promisify(execFile);
const media = join(CLIP_DIR, 'media');
const exports = join(CLIP_DIR, 'exports');
const outside = join(CLIP_DIR, 'outside');
let mounts: Map<string, MountPoint>;

beforeAll(async () => {
  for (const d of [media, exports, outside]) await mkdir(d, { recursive: true });
  await copyFile(await makeClip({ duration: 4, audio: true }), join(media, 'in.mp4'));
  // A segment outside the mount and a playlist inside it that points there: the classic
  // "HLS playlist reads a local file" trick.
  await run('ffmpeg', ['-v', 'error', '-y', '-i', join(media, 'in.mp4'), '-c', 'copy', '-t', '1', join(outside, 'secret.ts')]);
  await writeFile(join(media, 'evil.m3u8'), `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n${join(outside, 'secret.ts')}\n#EXT-X-ENDLIST\n`);
  await writeFile(join(media, 'list.txt'), `ffconcat version 1.0\nfile 'in.mp4'\n`);
  await symlink(join(outside, 'secret.ts'), join(media, 'link-out.ts'));
  mounts = new Map([
    ['media', { path: media, writable: false }],
    ['exports', { path: exports, writable: true }],
  ]);
});

function context(args: string[], extra: Record<string, unknown> = {}) {
  const rec = taskContext('none', { args, ...extra });
  rec.ctx.mounts = mounts;
  return rec;
}

async function ok(args: string[], extra: Record<string, unknown> = {}) {
  const rec = context(args, extra);
  const result = (await ffmpegRunner.run(rec.ctx)) as FfmpegResult;
  return { rec, result };
}

async function refused(args: string[], extra: Record<string, unknown> = {}, configure?: (ctx: ReturnType<typeof context>['ctx']) => void) {
  const rec = context(args, extra);
  configure?.(rec.ctx);
  const err = await ffmpegRunner.run(rec.ctx).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VidfleetError);
  expect(rec.artifacts).toEqual([]);
  return { err: err as VidfleetError, rec };
}

describe('ffmpeg kind', () => {
  it('remuxes $media/in.mp4 to $out/out.mkv, uploads it and reports progress against the probed duration', async () => {
    const { rec, result } = await ok(['-i', '$media/in.mp4', '-map', '0', '-c', 'copy', '$out/out.mkv']);
    expect(result.tool).toBe('ffmpeg');
    expect(result.artifacts).toEqual([{ name: 'out.mkv', size: expect.any(Number), contentType: 'video/x-matroska' }]);
    const file = rec.artifacts[0]!;
    expect(file.name).toBe('out.mkv');
    const probe = await probeFile(file.path);
    expect(probe.container.format).toContain('matroska');
    expect(probe.streams.map((s) => s.codec)).toEqual(['h264', 'aac']);
    expect(probe.duration).toBeCloseTo(4, 0);
    expect((await stat(file.path)).size).toBe(result.artifacts[0]!.size);
    expect(rec.progress.at(-1)?.progress).toBe(1);
    expect(rec.progress.every((p, i) => i === 0 || p.progress >= rec.progress[i - 1]!.progress)).toBe(true);
    // The log line shows what ran in logical names, with our guards in front of the input.
    const line = rec.logs.find((l) => l.startsWith('ffmpeg '))!;
    expect(line).toContain('-protocol_whitelist file -format_whitelist -i $media/in.mp4');
    expect(line).not.toContain(media);
  });

  it("streams ffmpeg's lines into the task log with mount directories shown as their $variables", async () => {
    // -v info so ffmpeg prints its input dump (which names the input file) on stderr.
    const { rec } = await ok(['-v', 'info', '-i', '$media/in.mp4', '-t', '0.5', '-c', 'copy', '$out/short.mkv']);
    const text = rec.logs.join('\n');
    expect(text).toMatch(/Input #0, mov,mp4.*from '\$media\/in\.mp4'/);
    expect(text).not.toContain(media);
  });

  it('refuses to upload more files than a job may have artifacts', () => {
    expect(() => assertOutputCount(10, 10)).not.toThrow();
    expect(() => assertOutputCount(11, 10)).toThrow(/wrote 11 files under \$out; a job may produce at most 10 artifacts/);
    expect(MAX_OUTPUT_FILES).toBe(10_000);
  });

  it('uploads every file of an HLS output under $out/hls/ with its sub-path and type', async () => {
    const { rec, result } = await ok(['-i', '$media/in.mp4', '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_segment_filename', '$out/hls/seg_%03d.ts', '$out/hls/index.m3u8'], {
      outputs: ['$out/hls/index.m3u8'],
    });
    const names = result.artifacts.map((a) => a.name);
    expect(names[0]).toBe('hls/index.m3u8');
    expect(names.length).toBeGreaterThanOrEqual(4);
    const playlist = await readFile(rec.artifacts.find((a) => a.name === 'hls/index.m3u8')!.path, 'utf8');
    const segments = playlist.split('\n').filter((l) => l.endsWith('.ts'));
    expect(segments.map((s) => `hls/${s}`).sort()).toEqual(names.slice(1));
    expect(result.artifacts.find((a) => a.name === 'hls/index.m3u8')?.contentType).toBe('application/vnd.apple.mpegurl');
    expect(result.artifacts.find((a) => a.name === 'hls/seg_000.ts')?.contentType).toBe('video/mp2t');
  });

  it('runs ffprobe and returns its JSON (with logical file names) as the result and ffprobe.json', async () => {
    const { rec, result } = await ok(['-v', 'error', '-of', 'json', '-show_format', '-show_streams', '$media/in.mp4'], { tool: 'ffprobe' });
    const output = result.output as { format: { filename: string; duration: string }; streams: Array<{ codec_name: string }> };
    expect(output.format.filename).toBe('$media/in.mp4');
    expect(Number(output.format.duration)).toBeCloseTo(4, 0);
    expect(output.streams.map((s) => s.codec_name)).toEqual(['h264', 'aac']);
    expect(rec.artifacts.map((a) => [a.name, a.contentType])).toEqual([['ffprobe.json', 'application/json']]);
    expect(JSON.parse(await readFile(rec.artifacts[0]!.path, 'utf8'))).toEqual(output);

    const text = await ok(['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', '$media/in.mp4'], { tool: 'ffprobe' });
    expect(Number(text.result.output)).toBeCloseTo(4, 0);
    expect(text.rec.artifacts[0]?.name).toBe('ffprobe.txt');
  });

  it('writes into a writable mount without making it an artifact', async () => {
    const { result } = await ok(['-i', '$media/in.mp4', '-t', '1', '-c', 'copy', '$exports/cut.mp4']);
    expect(result.artifacts).toEqual([]);
    expect((await probeFile(join(exports, 'cut.mp4'))).duration).toBeCloseTo(1, 0);
  });

  it('returns the log of analysis commands (-f null -)', async () => {
    const { result } = await ok(['-i', '$media/in.mp4', '-vn', '-af', 'loudnorm=print_format=json', '-f', 'null', '-']);
    expect(result.log).toMatch(/"input_i"/);
    expect(result.artifacts).toEqual([]);
  });

  it('reports frames when no duration is known, and reaches 1', async () => {
    const { rec } = await ok(['-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', '$out/t.mp4']);
    expect(rec.progress.some((p) => /^frame=\d+/.test(p.message ?? ''))).toBe(true);
    expect(rec.progress.at(-1)?.progress).toBe(1);
  });

  it('refuses a symlink escape before running anything', async () => {
    const { err, rec } = await refused(['-i', '$media/link-out.ts', '-c', 'copy', '$out/x.ts']);
    expect(err.code).toBe('PATH_ESCAPE');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/args\[1\] "\$media\/link-out.ts" is refused: .*outside \$media/);
    expect(rec.logs.some((l) => l.startsWith('ffmpeg '))).toBe(false);
  });

  it.each([
    ['an HLS playlist', 'evil.m3u8'],
    ['an ffconcat list', 'list.txt'],
  ])('refuses %s that would open further files', async (_what, name) => {
    const { err } = await refused(['-i', `$media/${name}`, '-c', 'copy', '$out/x.ts']);
    expect(err.code).toBe('PATH_NOT_ALLOWED');
    expect(err.message).toMatch(/not on whitelist/);
  });

  it('names the missing mount', async () => {
    const { err } = await refused(['-i', '$media/in.mp4', '$out/x.mkv'], {}, (ctx) => {
      ctx.mounts = undefined;
    });
    expect(err.code).toBe('MOUNT_MISSING');
    expect(err.message).toMatch(/no mount for \$media/);
  });

  it('fails a bad command with what ffmpeg said, not retryable', async () => {
    const { err } = await refused(['-i', '$media/in.mp4', '-c:v', 'nosuchencoder', '$out/x.mp4']);
    expect(err.code).toBe('FFMPEG_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/ffmpeg exited with code 1.*Unknown encoder 'nosuchencoder'/);
    expect(String(err.details?.stderr)).toContain('$media/in.mp4');
    expect(String(err.details?.stderr)).not.toContain(media);

    const missing = await refused(['-i', '$media/in.mp4', '-c', 'copy', '$out/x.mp4'], { outputs: ['$out/y.mp4'] });
    expect(missing.err.message).toMatch(/did not write \$out\/y.mp4/);
  });

  it('stops ffmpeg when the task is aborted', async () => {
    const rec = context(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '600', '-c:v', 'libx264', '-preset', 'ultrafast', '$out/long.mp4']);
    const running = ffmpegRunner.run(rec.ctx);
    await expect.poll(() => rec.progress.some((p) => p.progress > 0), { timeout: 20_000 }).toBe(true);
    rec.controller.abort(new VidfleetError('CANCELED', 'canceled by test'));
    await expect(running).rejects.toMatchObject({ code: 'CANCELED' });
    const { stdout } = await run('ps', ['-eo', 'args']);
    expect(stdout).not.toContain(rec.ctx.workDir);
    expect(rec.artifacts).toEqual([]);
  });
});

describe.runIf(HAVE_REAL_MEDIA)('ffmpeg kind on the real-world corpus, through a read-only mount', () => {
  const corpus = (): Map<string, MountPoint> => new Map([['corpus', { path: REAL_MEDIA_DIR, writable: false }]]);
  const { good, bad } = realMediaFiles();

  it.each(good.map((f) => basename(f)))('ffprobe reads %s as JSON, and a stream copy of its first seconds plays', async (name) => {
    const probe = taskContext('none', { tool: 'ffprobe', args: ['-v', 'error', '-of', 'json', '-show_streams', `$corpus/${name}`] });
    probe.ctx.mounts = corpus();
    const probed = (await ffmpegRunner.run(probe.ctx)) as FfmpegResult;
    const streams = (probed.output as { streams: { codec_type: string }[] }).streams;
    expect(streams.some((s) => s.codec_type === 'video')).toBe(true);

    // Matroska takes every codec here by stream copy, except MPEG-2 from this MXF (open GOP:
    // its leading B-frames carry no usable timestamps, and every muxer refuses them), which is
    // re-encoded instead.
    const target = 'first.mkv';
    const codec = name.endsWith('.mxf') ? ['-c:v', 'libx264', '-preset', 'ultrafast'] : ['-c', 'copy'];
    const copy = taskContext('none', { args: ['-i', `$corpus/${name}`, '-map', '0:v:0', '-t', '1', ...codec, `$out/${target}`] });
    copy.ctx.mounts = corpus();
    const copied = (await ffmpegRunner.run(copy.ctx)) as FfmpegResult;
    expect(copied.artifacts.map((a) => a.name)).toEqual([target]);
    expect((await probeFile(copy.artifacts[0]!.path)).primaryVideo).not.toBeNull();
  });

  it.each(bad.filter((f) => !basename(f).startsWith('bad_04')).map((f) => basename(f)))('decoding %s fails with the reason ffmpeg gave, not retried', async (name) => {
    const rec = taskContext('none', { args: ['-v', 'error', '-xerror', '-i', `$corpus/${name}`, '-map', '0:v:0', '-f', 'null', '-'] });
    rec.ctx.mounts = corpus();
    const err = await ffmpegRunner.run(rec.ctx).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VidfleetError);
    expect((err as VidfleetError).retryable).toBe(false);
    expect((err as VidfleetError).message.length).toBeGreaterThan(20);
    // Real mount paths are shown as their variables.
    expect((err as VidfleetError).message).not.toContain(REAL_MEDIA_DIR);
  });
});
