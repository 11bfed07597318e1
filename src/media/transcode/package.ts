// Packages the merged per-rendition MP4s of a transcode as HLS and/or DASH by remuxing (-c copy),
// and checks a package before anyone ships it.
//
// HLS uses fMP4 segments, not MPEG-TS: HEVC and AV1 are only allowed in fMP4 by the HLS spec,
// fMP4 has no TS packet overhead (~10% at low bitrates), DASH uses the same segment format, and
// the init segment holds the exact codec configuration the master playlist's CODECS come from.
// The cost is players older than iOS 10 / hls.js 0.x, which we accept. Audio stays muxed with
// each rendition's video in the same segments: the simplest package and the one every HLS
// player handles; separate audio renditions would only save the duplicated ~100 kbit/s.
import { readdir, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { VidfleetError } from '../../protocol/index.js';
import { classifyFailure } from '../errors.js';
import { parseRate, probeRaw } from '../probe.js';
import { ffmpegBinary, ffmpegInputArg, runProcess } from '../process.js';
import { parseInit } from './fmp4.js';
import { codecsOf, fail, parseMediaPlaylist, parseMpd, peakSegmentBandwidth, resolveTemplate } from './package-check.js';

export interface PackageRendition {
  name: string;
  path: string;
  width: number;
  height: number;
}

export interface PackageOptions {
  renditions: PackageRendition[];
  segmentSeconds: number;
  outDir: string;
  signal?: AbortSignal;
  onLog?: (line: string) => void;
}

export interface PackagedRendition {
  name: string;
  width: number;
  height: number;
  /** RFC 6381, video then audio, as read from the init segment. */
  codecs: string;
  frameRate: number;
  /** bit/s: the peak segment bitrate (RFC 8216 §4.3.4.2), written as HLS BANDWIDTH and DASH @bandwidth. */
  bandwidth: number;
  averageBandwidth: number;
  segments: number;
}

export interface PackageReport {
  format: 'hls' | 'dash';
  /** Relative to outDir. */
  manifest: string;
  files: string[];
  renditions: PackagedRendition[];
}

export { verifyDash, verifyHls, type ExpectedRendition, type VerifyReport } from './package-check.js';

interface Probed extends PackageRendition {
  codec: string;
  hasAudio: boolean;
  frameRate: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

async function probeInputs(o: PackageOptions): Promise<Probed[]> {
  if (!o.renditions.length) throw new VidfleetError('INVALID_PARAMS', 'packaging needs at least one rendition');
  if (!(o.segmentSeconds > 0 && Number.isFinite(o.segmentSeconds))) throw new VidfleetError('INVALID_PARAMS', `segmentSeconds must be a positive number (got ${o.segmentSeconds})`);
  const names = new Set<string>();
  for (const r of o.renditions) {
    // Names become directory and file names and URIs in the playlists.
    if (!NAME.test(r.name) || names.has(r.name)) throw new VidfleetError('INVALID_PARAMS', `rendition name "${r.name}" must be unique and use only letters, digits, ".", "_" and "-"`);
    names.add(r.name);
  }
  return Promise.all(
    o.renditions.map(async (r) => {
      const raw = await probeRaw(r.path, { signal: o.signal });
      const video = raw.streams?.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
      if (!video || !['h264', 'hevc', 'av1'].includes(video.codec_name ?? '')) {
        throw new VidfleetError('INVALID_PARAMS', `rendition ${r.name} (${r.path}) has no H.264, HEVC or AV1 video stream to package`);
      }
      // A size other than the plan's means the merge went wrong: the playlists would lie.
      if (video.width !== r.width || video.height !== r.height) {
        throw fail(`rendition ${r.name} is ${video.width}x${video.height} in ${r.path}, not the planned ${r.width}x${r.height}`);
      }
      const frameRate = parseRate(video.avg_frame_rate) ?? parseRate(video.r_frame_rate) ?? 0;
      return { ...r, codec: video.codec_name!, hasAudio: !!raw.streams?.some((s) => s.codec_type === 'audio'), frameRate };
    }),
  );
}

async function ffmpeg(args: string[], label: string, o: PackageOptions, cwd: string): Promise<void> {
  const res = await runProcess(ffmpegBinary(), ['-hide_banner', '-nostdin', '-v', 'warning', '-y', ...args], { signal: o.signal, onStderrLine: o.onLog, cwd });
  if (res.exitCode !== 0) throw classifyFailure({ tool: 'ffmpeg', input: label, stderr: res.stderr, exitCode: res.exitCode, action: 'could not package' });
}

// Apple players refuse HEVC tagged hev1 (parameter sets in band); the muxer writes hev1 unless told.
const videoTag = (codec: string): string[] => (codec === 'hevc' ? ['-tag:v', 'hvc1'] : []);

/** Per rendition hls/{name}/index.m3u8 + init.mp4 + seg_NNNNN.m4s, and hls/master.m3u8. */
export async function packageHls(o: PackageOptions): Promise<PackageReport> {
  const inputs = await probeInputs(o);
  const root = join(o.outDir, 'hls');
  // A retried task must not ship segments left over from an earlier, differently cut attempt.
  await rm(root, { recursive: true, force: true });
  const files: string[] = [];
  const packaged: PackagedRendition[] = [];
  for (const r of inputs) {
    const dir = join(root, r.name);
    await mkdir(dir, { recursive: true });
    // cwd = the rendition's folder, so segment names stay relative and no '%' in outDir can
    // be taken for the segment number pattern.
    await ffmpeg(
      ['-i', ffmpegInputArg(r.path), '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy', ...videoTag(r.codec), '-f', 'hls',
        '-hls_time', String(o.segmentSeconds), '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4',
        '-hls_segment_filename', 'seg_%05d.m4s', '-hls_flags', 'independent_segments', 'index.m3u8'],
      r.path, o, dir,
    );
    const playlist = parseMediaPlaylist(await readFile(join(dir, 'index.m3u8'), 'utf8'));
    const sizes = await Promise.all(playlist.segments.map(async (s) => (await stat(join(dir, s.uri))).size));
    const segs = playlist.segments.map((s, i) => ({ bytes: sizes[i]!, seconds: s.duration }));
    const tracks = parseInit(await readFile(join(dir, playlist.map ?? 'init.mp4')));
    const totalSeconds = segs.reduce((a, s) => a + s.seconds, 0);
    packaged.push({
      name: r.name, width: r.width, height: r.height, codecs: codecsOf(tracks), frameRate: r.frameRate,
      bandwidth: peakSegmentBandwidth(segs, playlist.target),
      averageBandwidth: Math.ceil((segs.reduce((a, s) => a + s.bytes, 0) * 8) / totalSeconds),
      segments: segs.length,
    });
    files.push(...(await readdir(dir)).sort().map((f) => `hls/${r.name}/${f}`));
  }
  // Highest first: players that ignore BANDWIDTH start with the first variant, and a
  // player starting with the best is the expected default.
  packaged.sort((a, b) => b.bandwidth - a.bandwidth);
  const lines = ['#EXTM3U', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const p of packaged) {
    lines.push(
      `#EXT-X-STREAM-INF:BANDWIDTH=${p.bandwidth},AVERAGE-BANDWIDTH=${p.averageBandwidth},CODECS="${p.codecs}",RESOLUTION=${p.width}x${p.height}` +
        (p.frameRate ? `,FRAME-RATE=${p.frameRate.toFixed(3)}` : ''),
      `${p.name}/index.m3u8`,
    );
  }
  await writeFile(join(root, 'master.m3u8'), `${lines.join('\n')}\n`);
  return { format: 'hls', manifest: 'hls/master.m3u8', files: ['hls/master.m3u8', ...files], renditions: packaged };
}

/**
 * dash/manifest.mpd with one video AdaptationSet (a Representation per rendition, ids 0…n-1 in
 * the order given) and one audio AdaptationSet (the first rendition's audio: every rendition
 * carries the same audio encode, so one copy serves all).
 */
export async function packageDash(o: PackageOptions): Promise<PackageReport> {
  const inputs = await probeInputs(o);
  const root = join(o.outDir, 'dash');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  // ffmpeg's dash muxer refuses an AdaptationSet whose picture aspect ratios differ, and a
  // ladder rounded to even sizes always has such (426x240 is 71:40, 640x360 16:9). Declaring the
  // largest rendition's aspect (the closest to the source's) on the others (a sample aspect of
  // 640:639 here) keeps them switchable in one set; beyond 2% it is a real mismatch.
  const ref = inputs.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
  if (inputs.some((r) => r.codec !== ref.codec)) throw new VidfleetError('INVALID_PARAMS', 'DASH puts all renditions in one AdaptationSet, so they must share a video codec; package each codec separately');
  const aspect: string[] = [];
  inputs.forEach((r, i) => {
    const off = (r.width / r.height) / (ref.width / ref.height);
    if (Math.abs(off - 1) > 0.02) throw new VidfleetError('INVALID_PARAMS', `rendition ${r.name} (${r.width}x${r.height}) does not have the aspect of ${ref.name} (${ref.width}x${ref.height}); DASH cannot switch between them`);
    if (off !== 1) aspect.push(`-aspect:v:${i}`, `${ref.width}:${ref.height}`);
  });
  const audioFrom = inputs.findIndex((r) => r.hasAudio);
  const args = inputs.flatMap((r) => ['-i', ffmpegInputArg(r.path)]);
  inputs.forEach((_r, i) => args.push('-map', `${i}:v:0`));
  if (audioFrom >= 0) args.push('-map', `${audioFrom}:a:0`);
  args.push('-c', 'copy', ...aspect, ...videoTag(ref.codec),
    '-f', 'dash', '-seg_duration', String(o.segmentSeconds), '-use_template', '1', '-use_timeline', '1',
    '-adaptation_sets', audioFrom >= 0 ? 'id=0,streams=v id=1,streams=a' : 'id=0,streams=v',
    '-init_seg_name', 'init-$RepresentationID$.m4s', '-media_seg_name', 'chunk-$RepresentationID$-$Number%05d$.m4s', 'manifest.mpd');
  await ffmpeg(args, inputs.map((r) => r.path).join(', '), o, root);

  const mpdPath = join(root, 'manifest.mpd');
  let xml = await readFile(mpdPath, 'utf8');
  const mpd = parseMpd(xml);
  const packaged: PackagedRendition[] = [];
  for (const rep of mpd.representations) {
    const init = parseInit(await readFile(join(root, resolveTemplate(rep.initialization, rep, 0, 0))));
    const segs = await Promise.all(rep.segments.map(async (s) => ({ bytes: (await stat(join(root, resolveTemplate(rep.media, rep, s.number, s.time)))).size, seconds: s.duration / rep.timescale })));
    // ffmpeg copies the input's average bit_rate into @bandwidth; for VBR that promises too
    // little, and a player picking by it stalls. The peak segment rate (as HLS BANDWIDTH) is a
    // rate at which every segment arrives within its own duration, so the buffer never drains.
    const bandwidth = peakSegmentBandwidth(segs, o.segmentSeconds);
    // ffmpeg 5.1 writes a bare codecs="hvc1" for HEVC, which no player can check support with.
    xml = setAttribute(setAttribute(xml, rep.id, 'bandwidth', String(bandwidth)), rep.id, 'codecs', codecsOf(init));
    if (rep.contentType !== 'video') continue;
    const r = inputs[Number(rep.id)];
    if (!r) throw fail(`manifest.mpd has video Representation ${rep.id}, but only ${inputs.length} renditions were packaged`);
    const totalSeconds = segs.reduce((a, s) => a + s.seconds, 0);
    packaged.push({
      name: r.name, width: r.width, height: r.height, codecs: codecsOf(init), frameRate: r.frameRate, bandwidth,
      averageBandwidth: Math.ceil((segs.reduce((a, s) => a + s.bytes, 0) * 8) / totalSeconds), segments: segs.length,
    });
  }
  // Renditions of different sizes have different SPS in their own init segments: segments of one
  // cannot be fed to a decoder set up by another's, which is what bitstreamSwitching="true" claims.
  xml = xml.replace(/ bitstreamSwitching="true"/g, '');
  await writeFile(mpdPath, xml);
  const files = (await readdir(root)).sort().map((f) => `dash/${f}`);
  return { format: 'dash', manifest: 'dash/manifest.mpd', files, renditions: packaged };
}


function setAttribute(xml: string, id: string, name: string, value: string): string {
  return xml.replace(new RegExp(`(<Representation id="${id}"[^>]*? ${name}=")[^"]*"`), `$1${value}"`);
}
