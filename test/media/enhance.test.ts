// The enhance kind with real ffmpeg on synthetic clips and the real-world corpus: output codec,
// size and duration, audio copied bit for bit when MP4 can carry it, levels measured on decoded
// frames, rotation, deinterlacing measured with idet, HDR, subtitles, and parameter checks.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { validateParams } from '../../src/coordinator/params.js';
import { planEnhance } from '../../src/media/enhance-plan.js';
import { enhanceRunner } from '../../src/media/kinds/enhance.js';
import { probeFile } from '../../src/media/probe.js';
import { VidfleetError, type EnhanceResult } from '../../src/protocol/index.js';
import { CLIP_DIR, makeClip, taskContext } from '../helpers/clips.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR } from '../helpers/shared-media.js';

const run = promisify(execFile);
const real = (name: string): string => join(REAL_MEDIA_DIR, name);

async function enhance(input: string, params: Record<string, unknown> = {}) {
  const rec = taskContext(input, { preset: 'ultrafast', ...params });
  const result = (await enhanceRunner.run(rec.ctx)) as EnhanceResult;
  expect(rec.artifacts.map((a) => [a.name, a.contentType])).toEqual([['enhanced.mp4', 'video/mp4']]);
  const file = rec.artifacts[0]!.path;
  return { rec, result, file, probe: await probeFile(file) };
}

/** MD5 of the packets of one audio stream: equal only when they were copied untouched. */
async function audioPacketsMd5(path: string, stream = 0): Promise<string> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', `0:a:${stream}`, '-c', 'copy', '-f', 'md5', '-']);
  return stdout.trim();
}

/** Mean luma over all decoded frames, on a small greyscale rendering. */
async function meanLuma(path: string): Promise<number> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-vf', 'scale=32:24,format=gray', '-f', 'rawvideo', '-'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout.reduce((s, v) => s + v, 0) / stdout.length;
}

/** Mean distance of the chroma plane from neutral grey (128). */
async function chromaSpread(path: string): Promise<number> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', path, '-vf', 'scale=32:24,format=yuv444p,extractplanes=u', '-f', 'rawvideo', '-'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout.reduce((s, v) => s + Math.abs(v - 128), 0) / stdout.length;
}

/** idet's multi-frame verdict counts. */
async function idet(path: string): Promise<{ tff: number; bff: number; progressive: number }> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-i', path, '-map', '0:v:0', '-vf', 'idet', '-f', 'null', '-']);
  const m = /Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)/.exec(stderr);
  if (!m) throw new Error(`no idet summary for ${path}`);
  return { tff: Number(m[1]), bff: Number(m[2]), progressive: Number(m[3]) };
}

describe('enhance on synthetic clips', () => {
  it('re-encodes to H.264 in MP4 (faststart), copies AAC bit for bit and reports progress up to 1', async () => {
    const clip = await makeClip({ duration: 2, audio: true });
    const { rec, result, file, probe } = await enhance(clip);
    expect(result).toMatchObject({
      artifact: 'enhanced.mp4',
      video: { codec: 'h264', width: 320, height: 240, pixelFormat: 'yuv420p' },
      audio: [{ codec: 'aac', sourceCodec: 'aac', copied: true }],
      subtitles: { converted: 0, dropped: 0 },
      deinterlaced: false,
      tonemapped: false,
    });
    expect(result.duration).toBeCloseTo(2, 1);
    expect(result.size).toBe(probe.container.size);
    expect(result.bitRate).toBeGreaterThan(0);
    expect(probe.container.majorBrand).toBe('isom');
    expect(await audioPacketsMd5(file)).toBe(await audioPacketsMd5(clip));
    // faststart: the index (moov) comes before the media data.
    const bytes = (await readFile(file)).toString('latin1');
    expect(bytes.indexOf('moov')).toBeGreaterThan(0);
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat'));
    const values = rec.progress.map((p) => p.progress);
    expect(values.at(-1)).toBe(1);
    expect(values.every((v, i) => i === 0 || v >= values[i - 1]!)).toBe(true);
  });

  it('moves mean luma in the direction of brightness, and saturation 0 removes colour', async () => {
    const clip = await makeClip({ duration: 1 });
    const base = await meanLuma((await enhance(clip)).file);
    const brighter = await meanLuma((await enhance(clip, { brightness: 0.2 })).file);
    const darker = await meanLuma((await enhance(clip, { brightness: -0.2 })).file);
    expect(brighter - base).toBeGreaterThan(20);
    expect(base - darker).toBeGreaterThan(20);
    const grey = await enhance(clip, { saturation: 0 });
    expect(grey.result.filters).toContain('eq=saturation=0');
    expect(await chromaSpread(grey.file)).toBeLessThan(2);
    expect(await chromaSpread((await enhance(clip)).file)).toBeGreaterThan(10);
  });

  it('turns a 90° clip upright and scales it in display aspect', async () => {
    const { result, probe } = await enhance(await makeClip({ rotation: 90, duration: 1 }), { width: 120 });
    expect(result.video).toMatchObject({ width: 120, height: 160 });
    const v = probe.streams[probe.primaryVideo!]!.video!;
    expect([v.width, v.height, v.rotation]).toEqual([120, 160, 0]);
  });

  it('fits anamorphic video into a box with square pixels', async () => {
    const { probe } = await enhance(await makeClip({ width: 720, height: 576, sar: '64:45', duration: 1 }), { width: 640, height: 640 });
    const v = probe.streams[probe.primaryVideo!]!.video!;
    expect([v.width, v.height, v.sampleAspectRatio]).toEqual([640, 360, '1:1']);
  });

  it('encodes VP9 and HEVC into MP4 when asked', async () => {
    const clip = await makeClip({ duration: 1 });
    expect((await enhance(clip, { videoCodec: 'vp9', crf: 40 })).probe.streams[0]!.codec).toBe('vp9');
    const hevc = await enhance(clip, { videoCodec: 'hevc' });
    expect([hevc.probe.streams[0]!.codec, hevc.probe.streams[0]!.codecTag]).toEqual(['hevc', 'hvc1']);
  });

  it('applies denoise and sharpen in order, and drops audio on request', async () => {
    const { result, probe } = await enhance(await makeClip({ duration: 1, audio: true }), { denoise: 'hqdn3d', denoiseStrength: 2, sharpen: 0.8, contrast: 1.2, audio: 'none' });
    expect(result.filters).toBe('hqdn3d=8,eq=contrast=1.2,unsharp=luma_msize_x=5:luma_msize_y=5:luma_amount=0.8,format=yuv420p');
    expect(probe.streams.map((s) => s.type)).toEqual(['video']);
  });

  it('deinterlaces an interlaced clip (idet: combed fields before, progressive frames after) only when it is interlaced', async () => {
    const clip = join(CLIP_DIR, 'interlaced-tff.mp4');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=720x576:rate=50:duration=1', '-vf', 'interlace=scan=tff,setfield=tff', '-c:v', 'libx264', '-preset', 'ultrafast', '-flags', '+ildct+ilme', '-x264-params', 'tff=1', '-pix_fmt', 'yuv420p', clip]);
    const before = await idet(clip);
    expect(before.tff).toBeGreaterThan(before.progressive);
    const auto = await enhance(clip);
    expect(auto.result.deinterlaced).toBe(true);
    const after = await idet(auto.file);
    expect(after.progressive).toBeGreaterThan(4 * (after.tff + after.bff));
    const off = await enhance(clip, { deinterlace: 'off' });
    expect((await idet(off.file)).tff).toBeGreaterThan(0);
    expect((await enhance(await makeClip({ duration: 1 }))).result.deinterlaced).toBe(false);
  });

  it('plans: deinterlacing a rotated source happens on the picture as coded', () => {
    const clip = { index: 0, type: 'video', codec: 'h264', video: { width: 720, height: 576, rotation: 90, interlaced: true, hdr: 'sdr', bitDepth: 8 } };
    const probe = { streams: [clip, { index: 1, type: 'audio', codec: 'dts', audio: { channels: 6, channelLayout: '5.1(side)' } }, { index: 2, type: 'audio', codec: 'pcm_s16le', audio: { channels: 8, channelLayout: 'hexadecagonal' } }], primaryVideo: 0 };
    const plan = planEnhance(probe as never, {}, { inputArg: 'file:/x', output: '/y.mp4', canTonemap: true });
    expect(plan.filters).toBe('transpose=cclock,bwdif=mode=send_frame:parity=auto:deint=interlaced,transpose=clock,format=yuv420p');
    expect(plan.args.join(' ')).toContain('-map 0:1 -c:a:0 aac -b:a:0 384k -map 0:2 -c:a:1 aac -b:a:1 128k -ac:a:1 2');
  });
});

describe.runIf(HAVE_REAL_MEDIA)('enhance on more of the corpus: VFR, MXF, fragmented MP4, broken files', () => {
  // Small and fast: the point is that each container and timing survives the trip, not quality.
  // Every frame survives, with its own timestamp (no frame dropped or duplicated), in 8-bit
  // BT.601/709 tags the encoder accepts. MP4 gives the last frame the duration of the one before
  // it, so a source that holds its last frame (23 holds it 1.57 s) comes out that much shorter.
  it.each([
    ['05_phone_pixel-motionphoto_hevc-hvc1_vfr.mp4', 0.25],
    ['23_vfr-extreme_screenrec_3026x1386.mp4', 1.6],
    ['21_mxf_mpeg2-pal_opengop_freemxf.mxf', 0.25],
    ['10_fmp4_moof_frag-buck-bunny.mp4', 0.25],
  ] as const)('%s becomes a playable H.264 MP4 with every frame', async (name, tolerance) => {
    const src = real(name);
    const count = async (f: string) => Number((await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', f])).stdout.trim().replace(/,$/, ''));
    const before = await probeFile(src);
    const { result, file } = await enhance(src, { width: 320 });
    expect(result.video).toMatchObject({ codec: 'h264', width: 320 });
    expect(await count(file)).toBe(await count(src));
    const length = before.streams[before.primaryVideo!]!.duration ?? before.duration!;
    expect(Math.abs((result.duration ?? Number.NaN) - length)).toBeLessThan(tolerance);
  });

  it.each([
    ['bad_01_truncated_pymediainfo-sample.mkv', ['INPUT_CORRUPT', 'NOT_A_VIDEO']],
    ['bad_03_ts_undecodable-video_4xmp3-teletext.ts', ['NOT_A_VIDEO', 'INPUT_CORRUPT']],
  ] as const)('%s fails with a clear, permanent error', async (name, codes) => {
    const err = await enhance(real(name)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VidfleetError);
    expect(codes).toContain((err as VidfleetError).code);
    expect((err as VidfleetError).retryable).toBe(false);
    expect((err as VidfleetError).message).toContain(name);
  });
});

describe.runIf(HAVE_REAL_MEDIA)('enhance on real files', () => {
  it('03 iPhone rot90: portrait output, AAC copied', async () => {
    const src = real('03_phone_iphone4s_rot90_moov-end.mov');
    const { result, file, probe } = await enhance(src);
    expect(result.video).toMatchObject({ codec: 'h264', width: 320, height: 568 });
    expect(probe.streams[probe.primaryVideo!]!.video!.rotation).toBe(0);
    expect(result.audio).toEqual([expect.objectContaining({ codec: 'aac', copied: true })]);
    expect(await audioPacketsMd5(file)).toBe(await audioPacketsMd5(src));
    expect(result.duration).toBeCloseTo(2.2, 1);
  });

  it('19 interlaced DVB (field order tt): deinterlaced by auto, anamorphic 16:9 kept, MP2 re-encoded to AAC', async () => {
    const src = real('19_ts_dvbt_mpeg2-576i-tff_mp2.ts');
    const { result, probe } = await enhance(src);
    expect(result.deinterlaced).toBe(true);
    expect(result.filters).toMatch(/^bwdif=/);
    expect(result.audio).toEqual([expect.objectContaining({ codec: 'aac', sourceCodec: 'mp2', copied: false })]);
    const v = probe.streams[probe.primaryVideo!]!.video!;
    expect([v.width, v.height, v.displayWidth, v.displayHeight]).toEqual([720, 576, 1024, 576]);
    expect((await enhance(src, { deinterlace: 'off' })).result.deinterlaced).toBe(false);
  });

  it('15 VP9 WebM with Opus: H.264 with the Opus packets copied', async () => {
    const src = real('15_webm_vp9-opus_bbb.webm');
    const { result, file } = await enhance(src);
    expect(result.video.codec).toBe('h264');
    expect(result.audio).toEqual([expect.objectContaining({ codec: 'opus', copied: true })]);
    expect(await audioPacketsMd5(file)).toBe(await audioPacketsMd5(src));
    expect(result.duration).toBeCloseTo(5, 0);
  });

  it('18 VP8 WebM with Vorbis: Vorbis cannot go in MP4, so it becomes AAC', async () => {
    const { result } = await enhance(real('18_webm_vp8-vorbis_rabbit320.webm'));
    expect(result.audio).toEqual([expect.objectContaining({ codec: 'aac', sourceCodec: 'vorbis', copied: false, channels: 2 })]);
  });

  it('08 HDR10: tone-mapped to SDR BT.709 for H.264, kept 10-bit HDR10 for HEVC', async () => {
    const src = real('08_hevc-hev1_main10-hdr10_frame-gaps.mp4');
    const sdr = await enhance(src, { width: 640 });
    const sv = sdr.probe.streams[sdr.probe.primaryVideo!]!.video!;
    expect(sdr.result.tonemapped).toBe(true);
    expect([sv.colorTransfer, sv.pixelFormat, sv.hdr, sv.width, sv.height]).toEqual(['bt709', 'yuv420p', 'sdr', 640, 360]);
    const hdr = await enhance(src, { videoCodec: 'hevc', width: 640 });
    const hv = hdr.probe.streams[hdr.probe.primaryVideo!]!.video!;
    expect([hdr.result.tonemapped, hv.colorTransfer, hv.pixelFormat, hv.hdr]).toEqual([false, 'smpte2084', 'yuv420p10le', 'hdr10']);
  });

  it('13 SRT subtitles: dropped by default, converted to MP4 text on request; AC-3 copied', async () => {
    const src = real('13_mkv_h264-ac3_srt-subs.mkv');
    const dropped = await enhance(src);
    expect(dropped.result.subtitles).toEqual({ converted: 0, dropped: 1 });
    expect(dropped.probe.streams.map((s) => s.type)).toEqual(['video', 'audio']);
    const converted = await enhance(src, { subtitles: 'convert' });
    expect(converted.result.subtitles).toEqual({ converted: 1, dropped: 0 });
    expect(converted.probe.streams.map((s) => s.codec)).toEqual(['h264', 'ac3', 'mov_text']);
  });

  it('16 odd 161x121 VP9: even output size for 4:2:0', async () => {
    const { result } = await enhance(real('16_webm_vp9_odd-161x121_bear.webm'));
    expect([result.video.width, result.video.height]).toEqual([160, 120]);
  });
});

describe('enhance parameters at submission', () => {
  const problem = (params: Record<string, unknown>): VidfleetError => {
    try {
      validateParams('enhance', params);
    } catch (err) {
      return err as VidfleetError;
    }
    throw new Error(`${JSON.stringify(params)} was accepted`);
  };

  it.each([
    [{ brightness: 2 }, /"brightness"/],
    [{ width: 321 }, /"width".*multiple of 2/],
    [{ denoise: 'median' }, /"denoise"/],
    [{ crf: 60 }, /"crf" 60 is out of range for h264/],
    [{ denoiseStrength: 2 }, /"denoiseStrength" needs "denoise"/],
    [{ audio: 'none', audioBitrate: 128 }, /audioBitrate/],
    [{ colour: 'red' }, /Unknown parameter "colour"/],
  ])('%j is a 400 INVALID_PARAMS naming the field', (params, message) => {
    const err = problem(params);
    expect([err.code, err.status]).toEqual(['INVALID_PARAMS', 400]);
    expect(err.message).toMatch(message);
  });

  it('accepts a full set', () => {
    expect(validateParams('enhance', { brightness: 0.1, contrast: 1.1, saturation: 1.2, gamma: 0.9, sharpen: 0.5, denoise: 'nlmeans', denoiseStrength: 1, deinterlace: 'auto', width: 1280, height: 720, videoCodec: 'vp9', crf: 60, preset: 'fast', audio: 'aac', audioBitrate: 160, subtitles: 'convert' })).toMatchObject({ crf: 60 });
  });
});
