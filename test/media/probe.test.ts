import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCapabilities, parseEncoders, parseFilters, parseHwaccels, parseVersion } from '../../src/media/capabilities.js';
import { classifyFailure } from '../../src/media/errors.js';
import { probeRunner } from '../../src/media/kinds/probe.js';
import { normaliseProbe, probeFile, type RawProbe, type RawStream } from '../../src/media/probe.js';
import { VidfleetError, type ErrorCode, type ProbeReport } from '../../src/protocol/index.js';
import { CLIP_DIR, copyClip, makeClip, makeTextFile, makeTruncatedMp4, startMediaServer, taskContext, type MediaServer } from '../helpers/clips.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR, realMediaFiles } from '../helpers/shared-media.js';

async function failure(p: Promise<unknown>): Promise<VidfleetError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VidfleetError);
  return err as VidfleetError;
}

function video(report: ProbeReport) {
  const s = report.streams[report.primaryVideo ?? -1];
  if (!s?.video) throw new Error('no primary video');
  return s.video;
}

const vstream = (over: Partial<RawStream> = {}): RawStream => ({
  index: 0, codec_type: 'video', codec_name: 'h264', width: 1920, height: 1080, pix_fmt: 'yuv420p',
  avg_frame_rate: '30/1', r_frame_rate: '30/1', disposition: { default: 1, attached_pic: 0 }, ...over,
});
const raw = (streams: RawStream[], format: RawProbe['format'] = { format_name: 'mov', duration: '10.0', size: '1000000', bit_rate: '800000' }): RawProbe => ({ streams, format });

describe('normaliseProbe (pure)', () => {
  it('turns a display matrix of -90 (ffprobe counts anticlockwise) into a 90° clockwise portrait', () => {
    const r = normaliseProbe(raw([vstream({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] })]));
    expect(video(r)).toMatchObject({ rotation: 90, displayWidth: 1080, displayHeight: 1920, width: 1920 });
    expect(video(normaliseProbe(raw([vstream({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: 90 }] })]))).rotation).toBe(270);
    expect(video(normaliseProbe(raw([vstream({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -180 }] })]))).rotation).toBe(180);
  });

  it('reads the legacy clockwise rotate tag when there is no display matrix', () => {
    expect(video(normaliseProbe(raw([vstream({ tags: { rotate: '270' } })])))).toMatchObject({ rotation: 270, displayWidth: 1080, displayHeight: 1920 });
  });

  it('applies the sample aspect ratio to the width, then rotation', () => {
    const v = video(normaliseProbe(raw([vstream({ width: 720, height: 576, sample_aspect_ratio: '64:45' })])));
    expect(v).toMatchObject({ displayWidth: 1024, displayHeight: 576, sampleAspectRatio: '64:45', displayAspectRatio: '16:9' });
    const turned = video(normaliseProbe(raw([vstream({ width: 720, height: 576, sample_aspect_ratio: '64:45', tags: { rotate: '90' } })])));
    expect(turned).toMatchObject({ displayWidth: 576, displayHeight: 1024 });
    expect(video(normaliseProbe(raw([vstream({ sample_aspect_ratio: '0:1' })]))).sampleAspectRatio).toBe('1:1');
  });

  it('maps transfer characteristics to HDR and finds the bit depth', () => {
    const hdr = (over: Partial<RawStream>) => video(normaliseProbe(raw([vstream(over)])));
    expect(hdr({ color_transfer: 'smpte2084', pix_fmt: 'yuv420p10le' })).toMatchObject({ hdr: 'hdr10', bitDepth: 10 });
    expect(hdr({ color_transfer: 'arib-std-b67', pix_fmt: 'yuv420p10le' }).hdr).toBe('hlg');
    expect(hdr({ color_transfer: 'bt709' }).hdr).toBe('sdr');
    expect(hdr({ pix_fmt: 'yuv420p' })).toMatchObject({ hdr: 'sdr', bitDepth: 8 });
    expect(hdr({ pix_fmt: 'yuv420p10le' })).toMatchObject({ hdr: 'unknown', bitDepth: 10 });
    expect(hdr({ bits_per_raw_sample: '12', pix_fmt: 'yuv420p12le' }).bitDepth).toBe(12);
    expect(hdr({ pix_fmt: 'p010le' }).bitDepth).toBe(10);
  });

  it('reads the frame rate, interlacing and the "no tag" codec tag', () => {
    const v = (over: Partial<RawStream>) => video(normaliseProbe(raw([vstream(over)])));
    expect(v({ avg_frame_rate: '30000/1001' }).frameRate).toBeCloseTo(29.97, 2);
    expect(v({ avg_frame_rate: '0/0', r_frame_rate: '25/1' }).frameRate).toBe(25);
    expect(v({ avg_frame_rate: '0/0', r_frame_rate: '0/0' })).toMatchObject({ frameRate: null, baseFrameRate: null });
    expect(v({ field_order: 'tt' })).toMatchObject({ interlaced: true, fieldOrder: 'tt' });
    expect(v({ field_order: 'progressive' }).interlaced).toBe(false);
    expect(v({}).interlaced).toBe(false);
    expect(normaliseProbe(raw([vstream({ codec_tag_string: '[0][0][0][0]' })])).streams[0]?.codecTag).toBeNull();
  });

  it('picks the main video: not cover art, the default one first, never a 0x0 stream', () => {
    const cover = vstream({ index: 0, codec_name: 'mjpeg', disposition: { default: 0, attached_pic: 1 } });
    const r = normaliseProbe(raw([cover, vstream({ index: 1, disposition: { default: 0 } }), vstream({ index: 2, disposition: { default: 1 } })]));
    expect(r.primaryVideo).toBe(2);
    expect(r.streams[0]?.isAttachedPicture).toBe(true);
    const broken = normaliseProbe(raw([vstream({ width: 0, height: 0 }), { index: 1, codec_type: 'audio', channels: 2, sample_rate: '48000' }]));
    expect(broken.primaryVideo).toBeNull();
    expect(broken.primaryAudio).toBe(1);
    expect(broken.warnings.join(' ')).toMatch(/0x0/);
  });

  it('reports durations as numbers or null, and says when they are missing or bogus', () => {
    const none = normaliseProbe(raw([vstream()], { format_name: 'matroska,webm' }));
    expect(none.duration).toBeNull();
    expect(none.warnings.join(' ')).toMatch(/no duration/);
    const tagged = normaliseProbe(raw([vstream({ tags: { DURATION: '00:00:01.240000000' } })], { format_name: 'matroska,webm' }));
    expect(tagged.streams[0]?.duration).toBeCloseTo(1.24);
    expect(tagged.duration).toBeCloseTo(1.24);
    const sentinel = normaliseProbe(raw([vstream({ duration_ts: 4294967295, duration: '143165.5765', bit_rate: '5' })], { format_name: 'mov', duration: '143165.643233', size: '106093', bit_rate: '5' }));
    expect(sentinel).toMatchObject({ duration: null, bitRate: null });
    expect(sentinel.streams[0]).toMatchObject({ duration: null, bitRate: null });
    expect(sentinel.warnings.join(' ')).toMatch(/bogus/);
    const padded = normaliseProbe(raw([vstream({ duration: '10.0' })], { format_name: 'mov', duration: '90000', size: '5000000000' }));
    expect(padded.duration).toBe(10);
    expect(padded.warnings.join(' ')).toMatch(/streams end by 10\.000 s/);
  });

  it('keeps container tags as strings and trims the major brand', () => {
    const r = normaliseProbe(raw([vstream()], { format_name: 'mov,mp4', duration: '1', tags: { major_brand: 'qt  ', minor_version: '0' } }));
    expect(r.container).toMatchObject({ majorBrand: 'qt', tags: { major_brand: 'qt  ', minor_version: '0' } });
  });
});

describe('probeFile on synthetic clips', () => {
  it('reports size, duration, frame rate and audio of a plain clip', async () => {
    const r = await probeFile(await makeClip({ width: 320, height: 240, fps: 25, duration: 2, audio: true }));
    expect(r.duration).toBeCloseTo(2, 1);
    expect(video(r)).toMatchObject({ width: 320, height: 240, displayWidth: 320, displayHeight: 240, rotation: 0, frameRate: 25, hdr: 'sdr', bitDepth: 8 });
    expect(r.streams[r.primaryAudio ?? -1]?.audio).toMatchObject({ channels: 1, sampleRate: 48000 });
    expect(r.container.format).toMatch(/mp4/);
    expect(r.warnings).toEqual([]);
  });

  it.each([90, 180, 270] as const)('reads a %i° rotation back and swaps the display size when needed', async (rotation) => {
    const v = video(await probeFile(await makeClip({ rotation })));
    expect(v.rotation).toBe(rotation);
    expect([v.displayWidth, v.displayHeight]).toEqual(rotation === 180 ? [320, 240] : [240, 320]);
  });

  it('shows an anamorphic clip at its display aspect', async () => {
    const v = video(await probeFile(await makeClip({ width: 720, height: 576, sar: '64:45', duration: 1 })));
    expect(v).toMatchObject({ sampleAspectRatio: '64:45', displayAspectRatio: '16:9', displayWidth: 1024, displayHeight: 576 });
  });

  it('probes Matroska too', async () => {
    const r = await probeFile(await makeClip({ container: 'mkv', audio: true, duration: 1 }));
    expect(r.container.format).toMatch(/matroska/);
    expect(r.duration).toBeCloseTo(1, 1);
  });
});

describe('probeFile failures', () => {
  const expectCode = async (input: string, code: ErrorCode, message?: RegExp) => {
    const err = await failure(probeFile(input));
    expect(err.code).toBe(code);
    if (message) expect(err.message).toMatch(message);
    return err;
  };

  it('a text file is NOT_A_VIDEO', async () => expectCode(await makeTextFile('notes.txt'), 'NOT_A_VIDEO', /not a video ffmpeg recognises.*Invalid data/));
  it('a text file named .mp4 is NOT_A_VIDEO, not a cut MP4', async () => expectCode(await makeTextFile('notes.mp4'), 'NOT_A_VIDEO', /not an MP4\/MOV file despite its name/));
  it('an empty .mp4 is INPUT_CORRUPT', async () => {
    const empty = join(CLIP_DIR, 'empty.mp4');
    await writeFile(empty, '');
    await expectCode(empty, 'INPUT_CORRUPT', /empty \(0 bytes\)/);
  });
  it('a missing file is INPUT_NOT_FOUND', () => expectCode('/nonexistent/dir/clip.mp4', 'INPUT_NOT_FOUND', /does not exist.*No such file/));
  it('a directory is INPUT_NOT_FOUND', () => expectCode(CLIP_DIR, 'INPUT_NOT_FOUND', /directory/));
  it('an MP4 cut in half is INPUT_CORRUPT', async () => expectCode(await makeTruncatedMp4(), 'INPUT_CORRUPT', /moov atom not found/));
  it('an audio-only file is NOT_A_VIDEO', async () => expectCode(await makeClip({ video: false, audio: true }), 'NOT_A_VIDEO', /no video stream/));
  it('a file name that looks like an ffmpeg error does not fool the classifier', async () => {
    expect(await makeTextFile('truncated partial file.txt').then((p) => failure(probeFile(p))).then((e) => e.code)).toBe('NOT_A_VIDEO');
    const r = await probeFile(await copyClip(await makeClip(), 'concat:a.mp4|b.mp4'));
    expect(video(r).width).toBe(320);
  });

  it('reports a missing ffprobe as FFMPEG_MISSING', async () => {
    const before = process.env.VIDFLEET_FFPROBE;
    process.env.VIDFLEET_FFPROBE = '/nonexistent/ffprobe';
    try {
      await expectCode(await makeClip(), 'FFMPEG_MISSING', /apt-get install -y ffmpeg/);
    } finally {
      if (before === undefined) delete process.env.VIDFLEET_FFPROBE;
      else process.env.VIDFLEET_FFPROBE = before;
    }
  });

  describe('over HTTP', () => {
    let server: MediaServer;
    beforeAll(async () => {
      server = await startMediaServer();
    });
    afterAll(() => server.close());

    it('probes a clip served with ranges', async () => {
      const clip = await makeClip({ audio: true });
      expect(video(await probeFile(`${server.url}/file?path=${encodeURIComponent(clip)}`)).width).toBe(320);
    });
    it('404 is INPUT_NOT_FOUND', () => expectCode(`${server.url}/status/404`, 'INPUT_NOT_FOUND', /404/));
    it('a 5xx is INPUT_UNREADABLE and retryable', async () => {
      const err = await expectCode(`${server.url}/status/503`, 'INPUT_UNREADABLE');
      expect(err.retryable).toBe(true);
    });
    it('a refused connection is INPUT_UNREADABLE', async () => {
      const gone = await startMediaServer();
      await gone.close();
      await expectCode(`${gone.url}/clip.mp4`, 'INPUT_UNREADABLE', /Connection refused/);
    });
  });
});

describe('classifyFailure', () => {
  const classify = (stderr: string, exitCode = 1) => classifyFailure({ tool: 'ffmpeg', input: 'in.mp4', stderr, exitCode });
  it.each<[string, ErrorCode]>([
    ['[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] moov atom not found\nin.mp4: Invalid data found when processing input', 'INPUT_CORRUPT'],
    ['in.mp4: Invalid data found when processing input', 'NOT_A_VIDEO'],
    ['Stream map \'0:V:0\' matches no streams.', 'NOT_A_VIDEO'],
    ['[tcp @ 0x1] Connection to tcp://h:80 failed: Connection timed out', 'INPUT_UNREADABLE'],
    ['http://h/x: Server returned 5XX Server Error reply', 'INPUT_UNREADABLE'],
    ['http://h/x: Server returned 403 Forbidden (access denied)', 'INPUT_UNREADABLE'],
    ['[concat @ 0x1] Protocol \'concat\' not on whitelist \'file,http\'!', 'INVALID_INPUT'],
    ['Conversion failed!', 'FFMPEG_FAILED'],
  ])('%s → %s', (stderr, code) => {
    const err = classify(stderr);
    expect(err.code).toBe(code);
    expect(err.message).toContain('in.mp4');
    expect(err.message).not.toMatch(/0x55\]/);
  });
  it('refusal of access is not worth retrying; a timeout is', () => {
    expect(classify('Server returned 403 Forbidden').retryable).toBe(false);
    expect(classify('Connection timed out').retryable).toBe(true);
  });
  it('quotes the last line when nothing matched, or says there was none', () => {
    expect(classify('something odd\nmore odd\n').message).toContain('"more odd"');
    expect(classify('', 139).message).toMatch(/exit code 139.*without printing/);
  });
});

describe('capabilities', () => {
  it('detects the version, encoders and hwaccels once per process', async () => {
    const first = detectCapabilities();
    expect(detectCapabilities()).toBe(first);
    const caps = await first;
    expect(caps.ffmpegVersion).toMatch(/^n?\d/);
    expect(caps.encoders).toEqual(expect.arrayContaining(['mjpeg', 'libx264']));
    expect(caps.encoders).not.toContain('=');
    expect(Array.isArray(caps.hwaccels)).toBe(true);
    // Debian's ffmpeg has zscale and tonemap (HDR stills); the legend lines are not filters.
    expect(caps.filters).toEqual(expect.arrayContaining(['scale', 'zscale', 'tonemap', 'thumbnail']));
    expect(caps.filters.some((f) => f.includes('='))).toBe(false);
  });
  it('parses the listings', () => {
    expect(parseVersion('ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026')).toBe('5.1.9-0+deb12u1');
    expect(parseEncoders('Encoders:\n V..... = Video\n ------\n V....D libwebp   libwebp WebP image\n A....D aac   AAC\n')).toEqual(['libwebp', 'aac']);
    expect(parseHwaccels('Hardware acceleration methods:\nvdpau\ncuda\n\n')).toEqual(['vdpau', 'cuda']);
    expect(parseFilters('Filters:\n  T.. = Timeline support\n  A = Audio input/output\n ..C amix   N->A   Audio mixing.\n .SC zscale   V->V   Apply resizing.\n ... nullsrc   |->V   Null video source.\n')).toEqual(['amix', 'zscale', 'nullsrc']);
  });
});

describe('probe kind', () => {
  it('writes probe.json, emits it and returns the report', async () => {
    const rec = taskContext(await makeClip({ audio: true }));
    const result = (await probeRunner.run(rec.ctx)) as ProbeReport;
    expect(video(result).width).toBe(320);
    expect(rec.artifacts).toEqual([{ name: 'probe.json', path: join(rec.ctx.workDir, 'probe.json'), contentType: 'application/json' }]);
    expect(JSON.parse(await readFile(join(rec.ctx.workDir, 'probe.json'), 'utf8'))).toEqual(result);
    expect(rec.progress.at(-1)?.progress).toBe(1);
  });
  it('fails a text file with NOT_A_VIDEO and emits nothing', async () => {
    const rec = taskContext(await makeTextFile());
    expect((await failure(probeRunner.run(rec.ctx))).code).toBe('NOT_A_VIDEO');
    expect(rec.artifacts).toEqual([]);
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('probeFile on the real-world corpus', () => {
  const { good, bad } = realMediaFiles();
  const byPrefix = (prefix: string) => join(REAL_MEDIA_DIR, good.concat(bad).map((f) => basename(f)).find((f) => f.startsWith(prefix)) ?? prefix);

  it.each(good.map((f) => [basename(f), f]))('%s probes with sane values', async (_name, file) => {
    const r = await probeFile(file);
    const v = video(r);
    expect(v.width).toBeGreaterThan(0);
    expect(v.displayWidth).toBeGreaterThan(0);
    expect(v.displayHeight).toBeGreaterThan(0);
    expect([0, 90, 180, 270]).toContain(v.rotation);
    if (r.duration !== null) expect(r.duration).toBeGreaterThan(0);
    if (r.duration !== null) expect(r.duration).toBeLessThan(3600);
    if (v.frameRate !== null) expect(v.frameRate).toBeGreaterThan(0);
    expect(['sdr', 'hdr10', 'hlg', 'unknown']).toContain(v.hdr);
    expect(r.container.size).toBeGreaterThan(0);
  });

  it('03: iPhone clip rotated 90° shows portrait 320x568', async () => {
    expect(video(await probeFile(byPrefix('03_')))).toMatchObject({ width: 568, height: 320, rotation: 90, displayWidth: 320, displayHeight: 568 });
  });
  it('04 and 06: other phones rotated 90°', async () => {
    expect(video(await probeFile(byPrefix('04_')))).toMatchObject({ rotation: 90, displayWidth: 2160, displayHeight: 3840 });
    expect(video(await probeFile(byPrefix('06_')))).toMatchObject({ rotation: 90, hdr: 'hlg', bitDepth: 10 });
  });
  it('05: two video streams, the 1024x768 clip is the main one', async () => {
    const r = await probeFile(byPrefix('05_'));
    expect(r.primaryVideo).toBe(0);
    expect(video(r)).toMatchObject({ width: 1024, height: 768, rotation: 90 });
    expect(r.warnings.join(' ')).toMatch(/2 video streams/);
  });
  it('08: HDR10', async () => expect(video(await probeFile(byPrefix('08_')))).toMatchObject({ hdr: 'hdr10', bitDepth: 10, colorTransfer: 'smpte2084' }));
  it('11: the bogus 143165 s duration is reported as unknown, with a warning', async () => {
    const r = await probeFile(byPrefix('11_'));
    expect(r.duration).toBeNull();
    expect(r.warnings.join(' ')).toMatch(/143165.*bogus/);
  });
  it('12: MediaRecorder file without a duration', async () => {
    const r = await probeFile(byPrefix('12_'));
    expect(r.duration).toBeNull();
    expect(r.warnings.join(' ')).toMatch(/no duration/);
  });
  it('16: odd size 161x121', async () => expect(video(await probeFile(byPrefix('16_')))).toMatchObject({ width: 161, height: 121, displayWidth: 161, displayHeight: 121 }));
  it('19: interlaced anamorphic PAL shows at 1024x576', async () => {
    expect(video(await probeFile(byPrefix('19_')))).toMatchObject({ interlaced: true, fieldOrder: 'tt', sampleAspectRatio: '64:45', displayWidth: 1024, displayHeight: 576 });
  });
  it('22: a hundred subtitle tracks are all listed', async () => {
    expect((await probeFile(byPrefix('22_'))).streams.filter((s) => s.type === 'subtitle')).toHaveLength(100);
  });

  it('bad_01 (header-only Matroska) is INPUT_CORRUPT with the demuxer complaint', async () => {
    const err = await failure(probeFile(byPrefix('bad_01')));
    expect(err.code).toBe('INPUT_CORRUPT');
    expect(err.message).toMatch(/matroska.*exceeds containing master element/);
  });
  it('bad_02 (cut MP4) probes: its header is intact, the damage shows only when decoding', async () => {
    expect(video(await probeFile(byPrefix('bad_02')))).toMatchObject({ width: 1920, height: 1080 });
  });
  it('bad_03 (video never decodable) is NOT_A_VIDEO', async () => {
    const err = await failure(probeFile(byPrefix('bad_03')));
    expect(err.code).toBe('NOT_A_VIDEO');
    expect(err.message).toMatch(/cannot be decoded.*video 0x0/);
  });
  it('bad_04 (frames 1-2 ms apart) probes, warning that its frame rate is implausible', async () => {
    const r = await probeFile(byPrefix('bad_04'));
    expect(r.warnings.join(' ')).toMatch(/600 fps.*implausible/);
    expect(r.streams[r.primaryVideo ?? -1]?.duration).toBeCloseTo(0.05);
  });
});
