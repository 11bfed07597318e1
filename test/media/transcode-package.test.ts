// HLS/DASH packaging of merged renditions: made here with ffmpeg the way the merge task leaves
// them (closed GOPs, a keyframe forced every 2 s, AAC, +faststart), packaged, checked, broken on
// purpose to see the check name the broken file, and played in headless Chromium with hls.js.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { VidfleetError } from '../../src/protocol/index.js';
import { packageDash, packageHls, verifyDash, verifyHls, type PackageReport } from '../../src/media/transcode/package.js';
import { parseMediaPlaylist, parseMpd, resolveTemplate } from '../../src/media/transcode/package-check.js';
import { CLIP_DIR } from '../helpers/clips.js';
import { playInChromium, serveDirectory } from '../helpers/hls-player.js';
import { REPO_ROOT } from '../helpers/shared-media.js';

const run = promisify(execFile);
const FFMPEG = process.env.VIDFLEET_FFMPEG || 'ffmpeg';
const FFPROBE = process.env.VIDFLEET_FFPROBE || 'ffprobe';
const SECONDS = 12;
const FPS = 25;
const SEGMENT = 2;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const measured: Record<string, unknown> = {};
afterAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  await writeFile(join(ARTIFACTS, 'transcode-package.json'), `${JSON.stringify(measured, null, 2)}\n`);
});

type Codec = 'h264' | 'hevc' | 'av1';
const ENCODERS: Record<Codec, string[]> = {
  h264: ['-c:v', 'libx264', '-preset', 'veryfast', '-flags', '+cgop', '-sc_threshold', '0'],
  hevc: ['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:scenecut=0:open-gop=0'],
  av1: ['-c:v', 'libaom-av1', '-usage', 'realtime', '-cpu-used', '8', '-row-mt', '1'],
};

async function makeRendition(name: string, width: number, height: number, codec: Codec = 'h264', seconds = SECONDS) {
  const path = join(CLIP_DIR, `${name}.mp4`);
  await run(FFMPEG, ['-hide_banner', '-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${FPS}:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    ...ENCODERS[codec], '-pix_fmt', 'yuv420p', '-force_key_frames', `expr:gte(t,n_forced*${SEGMENT})`,
    '-c:a', 'aac', '-b:a', '96k', '-movflags', '+faststart', path]);
  return { name, path, width, height };
}

/** What the transcode would pass as expectations: frames and duration of each merged file, by ffprobe. */
async function expectationOf(r: { name: string; path: string }) {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets,duration,profile,level', '-of', 'json', r.path]);
  const s = (JSON.parse(stdout) as { streams: { nb_read_packets: string; duration: string; profile: string; level: number }[] }).streams[0]!;
  return { name: r.name, frames: Number(s.nb_read_packets), durationSeconds: Number(s.duration), profile: s.profile, level: s.level };
}

let made: Promise<{ renditions: Awaited<ReturnType<typeof makeRendition>>[]; expected: Awaited<ReturnType<typeof expectationOf>>[] }> | undefined;
function ladder() {
  made ??= (async () => {
    // Smallest first on purpose: the master must come out sorted by bandwidth, not input order.
    const renditions = [await makeRendition('240p', 426, 240), await makeRendition('360p', 640, 360)];
    return { renditions, expected: await Promise.all(renditions.map(expectationOf)) };
  })();
  return made;
}

let hls: Promise<{ report: PackageReport; outDir: string; ms: number }> | undefined;
function hlsPackage() {
  hls ??= (async () => {
    const { renditions } = await ladder();
    const outDir = join(CLIP_DIR, 'pkg');
    const t0 = performance.now();
    const report = await packageHls({ renditions, segmentSeconds: SEGMENT, outDir });
    return { report, outDir, ms: Math.round(performance.now() - t0) };
  })();
  return hls;
}

let codecs: Promise<{ report: PackageReport; expected: Awaited<ReturnType<typeof expectationOf>>[]; outDir: string }> | undefined;
function codecPackage() {
  codecs ??= (async () => {
    const renditions = [await makeRendition('hevc', 320, 180, 'hevc', 4), await makeRendition('av1', 320, 180, 'av1', 4)];
    const outDir = join(CLIP_DIR, 'pkg-codecs');
    const report = await packageHls({ renditions, segmentSeconds: SEGMENT, outDir });
    return { report, expected: await Promise.all(renditions.map(expectationOf)), outDir };
  })();
  return codecs;
}

async function rejection(p: Promise<unknown>): Promise<VidfleetError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(VidfleetError);
  expect((err as VidfleetError).code).toBe('PACKAGE_CHECK_FAILED');
  return err as VidfleetError;
}

describe('packageHls', () => {
  it('cuts each rendition into 2 s fMP4 segments that hold every frame, and verifyHls agrees', async () => {
    const { expected } = await ladder();
    expect(expected.map((e) => e.frames)).toEqual([SECONDS * FPS, SECONDS * FPS]);
    const { report, outDir, ms } = await hlsPackage();
    expect(report.renditions.map((r) => [r.name, r.segments])).toEqual([['360p', SECONDS / SEGMENT], ['240p', SECONDS / SEGMENT]]);
    for (const name of ['240p', '360p']) {
      expect(report.files).toEqual(expect.arrayContaining([`hls/${name}/index.m3u8`, `hls/${name}/init.mp4`, `hls/${name}/seg_00000.m4s`, `hls/${name}/seg_00005.m4s`]));
    }
    expect(report.files).toContain('hls/master.m3u8');
    const checked = await verifyHls(join(outDir, report.manifest), expected, { segmentSeconds: SEGMENT });
    expect(checked.renditions.map((r) => [r.name, r.frames, r.segments])).toEqual([['360p', 300, 6], ['240p', 300, 6]]);
    for (const r of checked.renditions) {
      expect(Math.abs(r.durationSeconds - SECONDS)).toBeLessThanOrEqual(1 / FPS);
      expect(r.maxSegmentSeconds).toBeLessThanOrEqual(SEGMENT + 1 / FPS);
    }
    measured.hls = { packageMs: ms, renditions: report.renditions };
  });

  it('writes a master playlist, highest first, with measured BANDWIDTH and the codecs in the files', async () => {
    const { expected } = await ladder();
    const { report, outDir } = await hlsPackage();
    const master = await readFile(join(outDir, 'hls', 'master.m3u8'), 'utf8');
    const variants = [...master.matchAll(/#EXT-X-STREAM-INF:(.*)\n(.*)/g)].map((m) => ({ attrs: Object.fromEntries([...m[1]!.matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)].map((a) => [a[1], a[2]!.replace(/"/g, '')])), uri: m[2] }));
    expect(variants.map((v) => [v.uri, v.attrs.RESOLUTION, v.attrs['FRAME-RATE']])).toEqual([['360p/index.m3u8', '640x360', '25.000'], ['240p/index.m3u8', '426x240', '25.000']]);
    for (const v of variants) {
      const name = v.uri!.split('/')[0]!;
      const e = expected.find((x) => x.name === name)!;
      // avc1.PPCCLL: High is profile_idc 100 (0x64); the level byte is what ffprobe reports.
      expect(e.profile).toBe('High');
      expect(v.attrs.CODECS).toMatch(new RegExp(`^avc1\\.64[0-9a-f]{2}${e.level.toString(16).padStart(2, '0')},mp4a\\.40\\.2$`));
      // Recomputed from the files: every segment lasts exactly one target duration here, so the
      // peak is simply the biggest segment's rate.
      const playlist = parseMediaPlaylist(await readFile(join(outDir, 'hls', v.uri!), 'utf8'));
      expect(playlist.segments.every((s) => s.duration === SEGMENT)).toBe(true);
      const sizes = await Promise.all(playlist.segments.map(async (s) => (await stat(join(outDir, 'hls', name, s.uri))).size));
      expect(Number(v.attrs.BANDWIDTH)).toBe(Math.ceil((Math.max(...sizes) * 8) / SEGMENT));
      expect(Number(v.attrs['AVERAGE-BANDWIDTH'])).toBe(Math.ceil((sizes.reduce((a, b) => a + b, 0) * 8) / SECONDS));
      expect(report.renditions.find((r) => r.name === name)?.bandwidth).toBe(Number(v.attrs.BANDWIDTH));
    }
    expect(Number(variants[0]!.attrs.BANDWIDTH)).toBeGreaterThan(Number(variants[1]!.attrs.BANDWIDTH));
  });

  it('names the rendition and segment when a segment is missing, cut short or does not start on a keyframe', async () => {
    const { expected, renditions } = await ladder();
    const { outDir } = await hlsPackage();
    const copy = async (tag: string): Promise<string> => {
      const dir = join(CLIP_DIR, `tampered-${tag}`);
      await cp(join(outDir, 'hls'), dir, { recursive: true });
      return dir;
    };
    const missing = await copy('missing');
    await rm(join(missing, '240p', 'seg_00003.m4s'));
    expect((await rejection(verifyHls(join(missing, 'master.m3u8'), expected))).message).toMatch(/240p: segment seg_00003\.m4s is missing/);

    const cut = await copy('cut');
    const seg = join(cut, '360p', 'seg_00002.m4s');
    await truncate(seg, Math.floor((await stat(seg)).size / 2));
    expect((await rejection(verifyHls(join(cut, 'master.m3u8'), expected))).message).toMatch(/360p: segment seg_00002\.m4s is damaged/);

    // split_by_time cuts between keyframes: segments that a player cannot start or switch on.
    const split = await copy('split');
    await rm(join(split, '240p'), { recursive: true });
    await mkdir(join(split, '240p'));
    await run(FFMPEG, ['-v', 'error', '-i', renditions[0]!.path, '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_flags', 'split_by_time', '-hls_playlist_type', 'vod',
      '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4', '-hls_segment_filename', join(split, '240p', 'seg_%05d.m4s'), join(split, '240p', 'index.m3u8')]);
    expect((await rejection(verifyHls(join(split, 'master.m3u8'), expected, { segmentSeconds: SEGMENT }))).message).toMatch(/240p: segment seg_00001\.m4s does not start with a keyframe/);

    const lying = await copy('codecs');
    const master = join(lying, 'master.m3u8');
    const lines = (await readFile(master, 'utf8')).split('\n');
    const at = lines.indexOf('240p/index.m3u8') - 1;
    lines[at] = lines[at]!.replace(/avc1\.[0-9a-f]{6}/, 'avc1.42e01e');
    await writeFile(master, lines.join('\n'));
    expect((await rejection(verifyHls(master, expected))).message).toMatch(/240p: master says CODECS="avc1\.42e01e,mp4a\.40\.2" but init\.mp4 holds avc1\.64/);

    // Segments as cut (2 s) checked against a shorter promised length.
    expect((await rejection(verifyHls(join(outDir, 'hls', 'master.m3u8'), expected, { segmentSeconds: 1.5 }))).message).toMatch(/360p: segment seg_00000\.m4s lasts 2\.000 s, more than 1\.5 s \+ one frame/);

    const wrongCount = expected.map((e) => (e.name === '360p' ? { ...e, frames: e.frames + 1 } : e));
    expect((await rejection(verifyHls(join(outDir, 'hls', 'master.m3u8'), wrongCount))).message).toMatch(/360p: its segments hold 300 frames, expected 301/);
  });

  it('reads codec strings for HEVC (tagged hvc1) and AV1 from the init segments', async () => {
    const { report, expected, outDir } = await codecPackage();
    const codecs = Object.fromEntries(report.renditions.map((r) => [r.name, r.codecs]));
    const [hevc, av1] = expected;
    // Main profile: profile_idc 1, compatible with 1 and 2 (bit-reversed 0x6); level as ffprobe reads it.
    expect(codecs.hevc).toMatch(new RegExp(`^hvc1\\.1\\.6\\.L${hevc!.level}(\\.[0-9A-F]{1,2})*,mp4a\\.40\\.2$`));
    expect(codecs.av1).toBe(`av01.0.${String(av1!.level).padStart(2, '0')}M.08,mp4a.40.2`);
    const checked = await verifyHls(join(outDir, report.manifest), expected, { segmentSeconds: SEGMENT });
    expect(checked.renditions.map((r) => r.frames)).toEqual([4 * FPS, 4 * FPS]);
    measured.codecs = codecs;

    // ffmpeg's own MPD says just "hvc1"; packageDash writes the full string from the init segment.
    const hevcOnly = [{ name: 'hevc', path: join(CLIP_DIR, 'hevc.mp4'), width: 320, height: 180 }];
    const dash = await packageDash({ renditions: hevcOnly, segmentSeconds: SEGMENT, outDir });
    const mpd = parseMpd(await readFile(join(outDir, dash.manifest), 'utf8'));
    expect(mpd.representations.map((r) => r.codecs)).toEqual(codecs.hevc!.split(','));
    expect((await verifyDash(join(outDir, dash.manifest), [hevc!])).renditions[0]?.frames).toBe(4 * FPS);
  });

  it('refuses renditions whose file is not the planned size, and names that cannot be paths', async () => {
    const { renditions } = await ladder();
    const outDir = join(CLIP_DIR, 'pkg-refused');
    const wrongSize = packageHls({ renditions: [{ ...renditions[0]!, width: 640, height: 360 }], segmentSeconds: SEGMENT, outDir });
    expect((await rejection(wrongSize)).message).toMatch(/240p is 426x240 in .*, not the planned 640x360/);
    const badName = await packageHls({ renditions: [{ ...renditions[0]!, name: '../up' }], segmentSeconds: SEGMENT, outDir }).catch((e: unknown) => e);
    expect(badName).toMatchObject({ code: 'INVALID_PARAMS' });
  });
});

describe('packageDash', () => {
  it('writes one MPD with a video AdaptationSet of all renditions and one audio set, and verifyDash agrees', async () => {
    const { renditions, expected } = await ladder();
    const outDir = join(CLIP_DIR, 'pkg-dash');
    const t0 = performance.now();
    const report = await packageDash({ renditions, segmentSeconds: SEGMENT, outDir });
    const ms = Math.round(performance.now() - t0);
    const xml = await readFile(join(outDir, report.manifest), 'utf8');
    expect(xml.match(/<AdaptationSet\b/g)).toHaveLength(2);
    expect(xml).not.toMatch(/bitstreamSwitching/);
    const mpd = parseMpd(xml);
    const video = mpd.representations.filter((r) => r.contentType === 'video');
    expect(video.map((r) => r.segments.length)).toEqual([6, 6]);
    expect(xml).toMatch(/<Representation id="0"[^>]*width="426" height="240"/);
    expect(xml).toMatch(/<Representation id="1"[^>]*width="640" height="360"/);
    expect(mpd.representations.filter((r) => r.contentType === 'audio').map((r) => r.codecs)).toEqual(['mp4a.40.2']);
    expect(video.map((r) => r.bandwidth)).toEqual(report.renditions.map((r) => r.bandwidth));
    // Recomputed from the files (all video segments last exactly 2 s): the peak segment rate,
    // not the file's average that ffmpeg writes by itself.
    for (const [i, rep] of video.entries()) {
      const sizes = await Promise.all(rep.segments.map(async (s) => (await stat(join(outDir, 'dash', resolveTemplate(rep.media, rep, s.number, s.time)))).size));
      expect(rep.segments.every((s) => s.duration / rep.timescale === SEGMENT)).toBe(true);
      expect(rep.bandwidth).toBe(Math.ceil((Math.max(...sizes) * 8) / SEGMENT));
      expect(rep.bandwidth).toBeGreaterThanOrEqual(report.renditions[i]!.averageBandwidth);
    }
    const checked = await verifyDash(join(outDir, report.manifest), expected, { segmentSeconds: SEGMENT });
    expect(checked.renditions.map((r) => [r.name, r.frames, r.segments])).toEqual([['240p', 300, 6], ['360p', 300, 6]]);
    measured.dash = { packageMs: ms, renditions: report.renditions };

    await rm(join(outDir, 'dash', 'chunk-1-00004.m4s'));
    expect((await rejection(verifyDash(join(outDir, report.manifest), expected))).message).toMatch(/360p \(Representation 1\): segment chunk-1-00004\.m4s is missing/);
  });
});

describe('HLS in a browser', () => {
  it('plays in headless Chromium with hls.js: the clock advances and hls.js reports no error', async () => {
    const { outDir } = await hlsPackage();
    const server = await serveDirectory(join(outDir, 'hls'));
    await mkdir(ARTIFACTS, { recursive: true });
    try {
      const seconds = 3;
      const played = await playInChromium(server.playerUrl('master.m3u8'), { seconds, screenshot: join(ARTIFACTS, 'hls-player.png') });
      measured.playback = played;
      expect(played.errors).toEqual([]);
      expect(played.levels).toBe(2);
      expect(played.currentTimeEnd - played.currentTimeStart).toBeGreaterThanOrEqual(1);
      expect([640, 426]).toContain(played.videoWidth);
      expect(server.requests.some((p) => /\/seg_\d+\.m4s$/.test(p))).toBe(true);
    } finally {
      await server.close();
    }
  }, 90_000);

  it('plays the AV1 rendition of an HEVC + AV1 package: hls.js keeps the levels whose CODECS this Chromium decodes', async () => {
    const { outDir } = await codecPackage();
    const server = await serveDirectory(join(outDir, 'hls'));
    try {
      const played = await playInChromium(server.playerUrl('master.m3u8'), { seconds: 2 });
      const hevcDecodes = Object.entries(played.supported).find(([t]) => t.includes('hvc1'))![1];
      measured.playbackAv1 = { ...played, hevcDecodes };
      expect(played.errors).toEqual([]);
      expect(played.levels).toBe(hevcDecodes ? 2 : 1);
      expect(played.currentTimeEnd - played.currentTimeStart).toBeGreaterThanOrEqual(1);
      expect(server.requests.some((p) => p.startsWith('/av1/seg_'))).toBe(true);
    } finally {
      await server.close();
    }
  }, 90_000);
});
