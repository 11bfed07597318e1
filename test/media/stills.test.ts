// The shared still-image chain (src/media/stills.ts) and the log readers behind it: unit rules
// on the chain's text, then real ffmpeg on the corpus for what only pixels can show (tone
// mapping against an independent reference, the no-zscale fallback).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseFilters } from '../../src/media/capabilities.js';
import { packetSpan } from '../../src/media/duration.js';
import { errorLines, shownFrame, sniffInputVideo } from '../../src/media/ffmpeg-log.js';
import { hdrFallback, isBlank, stillChain, unknownChainFits, type StillChainOptions, type StillSource } from '../../src/media/stills.js';
import { HAVE_REAL_MEDIA, REAL_MEDIA_DIR } from '../helpers/shared-media.js';

const run = promisify(execFile);

const SDR: StillSource = { hdr: 'sdr', colorSpace: 'bt709', colorPrimaries: 'bt709', bitDepth: 8, fieldOrder: 'progressive', interlaced: false, rotation: 0 };
const HDR10: StillSource = { ...SDR, hdr: 'hdr10', colorSpace: 'bt2020nc', colorPrimaries: 'bt2020', bitDepth: 10, fieldOrder: null };
const opts: StillChainOptions = { format: 'jpeg', tag: 't0', zscale: true, width: 320 };

describe('stillChain', () => {
  it('without knowing the source: flag-driven deinterlace, display-aspect scale, JPEG range, a named showinfo', () => {
    const c = stillChain(null, opts);
    expect(c.filter).toBe(
      'bwdif=mode=send_frame:parity=auto:deint=interlaced,scale=w=320:h=max(1\\,round(320/dar)),setsar=1,format=yuvj420p,sidedata=mode=delete,showinfo@t0',
    );
    expect(c).toMatchObject({ inputArgs: [], toneMap: null, warnings: [] });
  });

  it('leaves the deinterlacer out for a stream known to be progressive', () => {
    expect(stillChain(SDR, opts).filter).not.toContain('bwdif');
  });

  it('tone-maps HDR10 and HLG after scaling, before the caller picks frames', () => {
    const pq = stillChain(HDR10, { ...opts, pick: ['thumbnail=n=50'] }).filter.split(',');
    expect(pq).toContain('setparams=color_trc=smpte2084:color_primaries=bt2020:colorspace=bt2020nc');
    const at = (f: string) => pq.findIndex((x) => x.startsWith(f));
    expect(at('scale=')).toBeLessThan(at('zscale=t=linear'));
    expect(at('tonemap=tonemap=hable')).toBeLessThan(at('thumbnail=n=50'));
    expect(at('thumbnail=n=50')).toBeLessThan(at('format=yuvj420p'));
    // zimg works in 4:4:4 so odd sizes pass (240x135 in 4:2:0 is refused).
    expect(pq[at('setparams') - 1]).toBe('format=yuv444p10le');
    expect(pq[at('zscale=t=bt709') + 1]).toBe('format=yuv444p');
    const hlg = stillChain({ ...HDR10, hdr: 'hlg' }, opts);
    expect(hlg.toneMap).toBe('hlg');
    expect(hlg.filter).toContain('color_trc=arib-std-b67');
  });

  it('takes untagged 10-bit BT.2020 as PQ, with a warning; untagged 8-bit stays SDR', () => {
    const untagged = stillChain({ ...HDR10, hdr: 'unknown', colorPrimaries: null }, opts);
    expect(untagged.toneMap).toBe('hdr10');
    expect(untagged.filter).toContain('color_primaries=bt2020');
    expect(untagged.warnings.join()).toMatch(/no transfer tag; assumed HDR10/);
    expect(stillChain({ ...HDR10, hdr: 'unknown', colorSpace: null }, opts).toneMap).toBeNull();
    expect(stillChain({ ...SDR, hdr: 'unknown', colorSpace: 'bt2020nc', bitDepth: 8 }, opts).toneMap).toBeNull();
  });

  it('falls back to a luma curve for HDR10 and to nothing for HLG without zscale, and says so', () => {
    const pq = stillChain(HDR10, { ...opts, zscale: false });
    expect(pq.filter).toContain("lutyuv=y='st(0,");
    expect(pq.filter).not.toContain('zscale');
    expect(pq.warnings.join()).toMatch(/no zscale filter.*simpler luma-only curve/);
    const hlg = stillChain({ ...HDR10, hdr: 'hlg' }, { ...opts, zscale: false });
    expect(hlg.filter).not.toMatch(/zscale|lutyuv/);
    expect(hlg.warnings.join()).toMatch(/HLG is shown without tone mapping/);
  });

  it('rotates after deinterlacing when a known interlaced source is rotated', () => {
    const c = stillChain({ ...SDR, fieldOrder: 'tt', interlaced: true, rotation: 90 }, opts);
    expect(c.inputArgs).toEqual(['-noautorotate']);
    expect(c.filter).toMatch(/^bwdif=[^,]+,transpose=clock,scale=/);
    expect(stillChain({ ...SDR, fieldOrder: 'tt', interlaced: true, rotation: 180 }, opts).filter).toMatch(/^bwdif=[^,]+,hflip,vflip,scale=/);
    expect(stillChain({ ...SDR, rotation: 90 }, opts).inputArgs).toEqual([]);
  });

  it('ends in a pixel format each encoder takes, with showinfo on YUV', () => {
    expect(stillChain(SDR, { ...opts, format: 'webp' }).filter).toMatch(/format=yuv420p,sidedata=mode=delete,showinfo@t0$/);
    expect(stillChain(SDR, { ...opts, format: 'png' }).filter).toMatch(/format=yuv444p,sidedata=mode=delete,showinfo@t0,format=rgb24$/);
  });

  it('knows when the chain built blind already fits', () => {
    expect(unknownChainFits(SDR)).toBe(true);
    expect(unknownChainFits({ ...SDR, fieldOrder: 'tt', interlaced: true })).toBe(true);
    expect(unknownChainFits({ ...SDR, fieldOrder: 'tt', interlaced: true, rotation: 270 })).toBe(false);
    expect(unknownChainFits(HDR10)).toBe(false);
  });
});

describe('isBlank', () => {
  it.each([
    [{ mean: 0, stdev: 0 }, 'jpeg', true],
    [{ mean: 16, stdev: 0.5 }, 'webp', true], // video-range black
    [{ mean: 20, stdev: 6 }, 'jpeg', true], // black with a little noise
    [{ mean: 200, stdev: 1.5 }, 'jpeg', true], // a flat slate
    [{ mean: 25, stdev: 20 }, 'jpeg', false], // a dark scene with detail
    [{ mean: 130, stdev: 50 }, 'png', false],
  ] as const)('%j as %s → %s', (stats, format, blank) => {
    expect(isBlank(stats, format)).toBe(blank);
  });
});

describe('reading ffmpeg logs', () => {
  const dump = [
    "[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/x.mp4':",
    '[info]   Duration: 00:00:02.55, start: 0.000000, bitrate: 10289 kb/s',
    '[info]   Stream #0:0[0x1](und): Video: mjpeg (Baseline), yuvj420p(pc, bt470bg/unknown/unknown), 600x600, 90k tbr, 90k tbn (attached pic)',
    '[info]   Stream #0:1[0x2](und): Video: hevc (Main 10) (hvc1 / 0x31637668), yuv420p10le(tv, bt2020nc/bt2020/arib-std-b67), 1920x1080, 8413 kb/s, 28.03 fps, 29.97 tbr, 600 tbn (default)',
    '[info]     Side data:',
    '[info]       displaymatrix: rotation of -90.00 degrees',
    '[info]   Stream #0:2[0x3](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 140 kb/s (default)',
    '[info] Stream mapping:',
    '[mpeg2video @ 0x55bb8145ac80] [error] Invalid frame dimensions 0x0.',
    '[swscaler @ 0x55bb] [warning] deprecated pixel format used, make sure you did set range correctly',
    '[showinfo@still0 @ 0x55bb81651980] [info] config in time_base: 1/600, frame_rate: 30000/1001',
    '[showinfo@still0 @ 0x55bb81651980] [info] n:   0 pts:     20 pts_time:-0.4333 pos:  1227341 fmt:yuvj420p sar:0/1 s:320x568 i:P iskey:0 type:B checksum:21C944BA plane_checksum:[993F1B3D 72E8A4A5 2F9A84C9] mean:[141 128 126] stdev:[60.1 4.2 2.6]',
    '[showinfo@still0 @ 0x55bb81651980] [info] n:   1 pts:     40 pts_time:0.0666 pos:  1 fmt:yuvj420p mean:[1 1 1] stdev:[0.0 0 0]',
    '[error] file:/x.mp4: End of file',
  ].join('\n');

  it('keeps the error-level lines, without their level tag, for the classifier', () => {
    expect(errorLines(dump)).toBe('[mpeg2video @ 0x55bb8145ac80] Invalid frame dimensions 0x0.\nfile:/x.mp4: End of file');
  });

  it('reads the first usable video stream of the input dump, skipping cover art', () => {
    expect(sniffInputVideo(dump)).toMatchObject({ width: 1920, height: 1080, hdr: 'hlg', colorSpace: 'bt2020nc', bitDepth: 10, rotation: 90, interlaced: false });
    const ts = "[info] Input #0, mpegts, from 'x':\n[info]   Stream #0:0[0x1000]: Video: mpeg2video (Main) ([2][0][0][0] / 0x0002), yuv420p(tv, top first), 720x576 [SAR 64:45 DAR 16:9], 25 fps";
    expect(sniffInputVideo(ts)).toMatchObject({ interlaced: true, fieldOrder: 'tt', hdr: 'sdr', sampleAspectRatio: '64:45', rotation: 0 });
    const vp9 = "[info] Input #0, matroska,webm, from 'x':\n[info]   Stream #0:0(eng): Video: vp9 (Profile 2), yuv420p10le(tv, bt2020nc/unknown/unknown), 426x240, SAR 1:1 DAR 71:40, 23.98 fps";
    const samsung = "[info] Input #0, mov, from 'x':\n[info]   Stream #0:1[0x2](eng): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 320x240 [SAR 27:64 DAR 9:16], 118 kb/s, SAR 1:1 DAR 4:3, 30.47 fps";
    expect(sniffInputVideo(samsung)).toMatchObject({ sampleAspectRatio: '1:1', displayWidth: 320 });
    expect(sniffInputVideo(vp9)).toMatchObject({ hdr: 'unknown', colorSpace: 'bt2020nc', colorTransfer: null, bitDepth: 10 });
    expect(sniffInputVideo("[info] Input #0, mpegts, from 'x':\n[info]   Stream #0:0[0x424]: Video: h264 ([27][0][0][0] / 0x001B), none, 90k tbr")).toBeNull();
    expect(sniffInputVideo('')).toBeNull();
  });

  it("reads a showinfo instance's first frame", () => {
    expect(shownFrame(dump, 'still0')).toEqual({ ptsTime: -0.4333, mean: 141, stdev: 60.1 });
    expect(shownFrame(dump, 'still1')).toBeNull();
  });

  it('parses `ffmpeg -filters` and packet listings', () => {
    const filters = ' T.. = Timeline support\n ------\n .SC zscale            V->V       Apply resizing.\n TS. bwdif             V->V       Deinterlace.\n ... abuffer           |->A       Buffer audio frames.\n';
    expect(parseFilters(filters)).toEqual(['zscale', 'bwdif', 'abuffer']);
    expect(packetSpan('packet|19207.870|0.040|side_data|\npacket|N/A|0.04\npacket|19210.950|0.040\nformat|19207.654\n')).toBeCloseTo(3.336, 6);
    expect(packetSpan('format|0.0\n')).toBeNull();
  });
});

describe.skipIf(!HAVE_REAL_MEDIA)('HDR fallback without zscale (run through real ffmpeg)', () => {
  it('brings file 08 (HDR10) near the zscale tone map and away from the washed-out naive conversion', async () => {
    const src = join(REAL_MEDIA_DIR, '08_hevc-hev1_main10-hdr10_frame-gaps.mp4');
    const frame = async (vf: string) => {
      const { stdout } = await run('ffmpeg', ['-v', 'error', '-ss', '0.5', '-i', src, '-frames:v', '1', '-vf', `scale=160:90,${vf},scale=32:32:flags=area,format=gray`, '-f', 'rawvideo', '-'], { encoding: 'buffer' });
      const y = [...stdout];
      const mean = y.reduce((a, b) => a + b, 0) / y.length;
      return { mean, contrast: Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / y.length) };
    };
    const fallback = await frame(hdrFallback('hdr10') ?? 'null');
    const reference = await frame('zscale=tin=smpte2084:min=bt2020nc:pin=bt2020:rin=limited:t=linear:npl=100:p=bt2020:m=bt2020nc,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv');
    const naive = await frame('null');
    expect(Math.abs(fallback.mean - reference.mean)).toBeLessThan(12);
    expect(fallback.contrast).toBeGreaterThan(naive.contrast + 10);
    expect(hdrFallback('hlg')).toBeNull();
  });
});
