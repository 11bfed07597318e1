// Checks an HLS or DASH package against what the transcode made: every segment is read (its moof
// only, see fmp4.ts) so a missing, cut or badly cut segment is named, and ffprobe reads the
// manifest like a player would, counting each rendition's packets. Also the small manifest
// parsers packaging itself uses.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { VidfleetError } from '../../protocol/index.js';
import { lastFfmpegLine } from '../errors.js';
import { ffmpegInputArg, ffprobeBinary, runProcess } from '../process.js';
import { parseInit, readSegment, type InitTrack } from './fmp4.js';

export const fail = (message: string): VidfleetError => new VidfleetError('PACKAGE_CHECK_FAILED', message);

export interface MediaPlaylist {
  target: number;
  map: string | undefined;
  ended: boolean;
  segments: { uri: string; duration: number }[];
}

/** RFC 6381 list for a CODECS attribute: video first, then the rest as stored. */
export function codecsOf(tracks: InitTrack[]): string {
  const order = (t: InitTrack): number => (t.handler === 'vide' ? 0 : 1);
  return [...tracks].sort((a, b) => order(a) - order(b)).map((t) => t.codec).join(',');
}

export function parseMediaPlaylist(text: string): MediaPlaylist {
  const out: MediaPlaylist = { target: 0, map: undefined, ended: false, segments: [] };
  let pending: number | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-TARGETDURATION:')) out.target = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MAP:')) out.map = /URI="([^"]*)"/.exec(line)?.[1];
    else if (line.startsWith('#EXTINF:')) pending = parseFloat(line.slice(8));
    else if (line === '#EXT-X-ENDLIST') out.ended = true;
    else if (line && !line.startsWith('#') && pending !== null) {
      out.segments.push({ uri: line, duration: pending });
      pending = null;
    }
  }
  return out;
}

function parseMaster(text: string): { uri: string; attrs: Record<string, string> }[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const out: { uri: string; attrs: Record<string, string> }[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) return;
    const attrs: Record<string, string> = {};
    for (const m of line.slice(18).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attrs[m[1]!] = m[2]!.replace(/^"|"$/g, '');
    const uri = lines.slice(i + 1).find((l) => l && !l.startsWith('#'));
    if (uri) out.push({ uri, attrs });
  });
  return out;
}

/** RFC 8216 §4.3.4.2: the highest rate over any run of segments lasting 0.5–1.5 target durations. */
export function peakSegmentBandwidth(segs: { bytes: number; seconds: number }[], target: number): number {
  let peak = 0;
  for (let i = 0; i < segs.length; i++) {
    let bytes = 0;
    let seconds = 0;
    for (let j = i; j < segs.length && seconds + segs[j]!.seconds <= 1.5 * target; j++) {
      bytes += segs[j]!.bytes;
      seconds += segs[j]!.seconds;
      if (seconds >= 0.5 * target) peak = Math.max(peak, (bytes * 8) / seconds);
    }
  }
  // A video shorter than half a target duration has no such run: its whole rate is its peak.
  const total = segs.reduce((a, s) => a + s.seconds, 0);
  return Math.ceil(peak || (segs.reduce((a, s) => a + s.bytes, 0) * 8) / total);
}

export interface MpdRepresentation {
  id: string;
  contentType: string;
  bandwidth: number;
  codecs: string;
  timescale: number;
  initialization: string;
  media: string;
  segments: { number: number; time: number; duration: number }[];
}

const attrsOf = (s: string): Record<string, string> =>
  Object.fromEntries([...s.matchAll(/([\w:]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>')]));

function isoSeconds(d: string | undefined): number | null {
  const m = /^PT(?:([\d.]+)H)?(?:([\d.]+)M)?(?:([\d.]+)S)?$/.exec(d ?? '');
  return m ? Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) : null;
}

/** The static, SegmentTemplate + SegmentTimeline MPDs ffmpeg's dash muxer writes (one Period). */
export function parseMpd(xml: string): { maxSegmentDuration: number | null; representations: MpdRepresentation[] } {
  const mpd = attrsOf(/<MPD\b([^>]*)>/.exec(xml)?.[1] ?? '');
  const representations: MpdRepresentation[] = [];
  for (const set of xml.matchAll(/<AdaptationSet\b([^>]*)>([\s\S]*?)<\/AdaptationSet>/g)) {
    const setAttrs = attrsOf(set[1]!);
    const setTemplate = /^[\s\S]*?(?=<Representation\b|$)/.exec(set[2]!)?.[0] ?? '';
    for (const rep of set[2]!.matchAll(/<Representation\b([^>]*?)(?:\/>|>([\s\S]*?)<\/Representation>)/g)) {
      const a = attrsOf(rep[1]!);
      const body = /<SegmentTemplate\b/.test(rep[2] ?? '') ? rep[2]! : setTemplate;
      const tm = /<SegmentTemplate\b([^>]*?)(?:\/>|>([\s\S]*?)<\/SegmentTemplate>)/.exec(body);
      if (!tm?.[2]?.includes('<SegmentTimeline')) throw fail(`Representation ${a.id} has no SegmentTemplate with a SegmentTimeline`);
      const t = attrsOf(tm[1]!);
      const segments: MpdRepresentation['segments'] = [];
      let number = Number(t.startNumber ?? 1);
      let time = 0;
      for (const s of tm[2].matchAll(/<S\b([^>]*?)\/>/g)) {
        const sa = attrsOf(s[1]!);
        if (sa.t !== undefined) time = Number(sa.t);
        const repeat = Number(sa.r ?? 0);
        if (repeat < 0) throw fail(`Representation ${a.id}: an open-ended S@r="${sa.r}" has no place in a VOD manifest`);
        for (let k = 0; k <= repeat; k++, number++, time += Number(sa.d)) segments.push({ number, time, duration: Number(sa.d) });
      }
      const contentType = setAttrs.contentType ?? (a.mimeType ?? setAttrs.mimeType ?? '').split('/')[0]!;
      representations.push({ id: a.id ?? '', contentType, bandwidth: Number(a.bandwidth), codecs: a.codecs ?? setAttrs.codecs ?? '', timescale: Number(t.timescale ?? 1), initialization: t.initialization ?? '', media: t.media ?? '', segments });
    }
  }
  return { maxSegmentDuration: isoSeconds(mpd.maxSegmentDuration), representations };
}

/** ISO 23009-1 §5.3.9.4.4 identifiers: $RepresentationID$, $Number%05d$, $Time$, $Bandwidth$, $$. */
export function resolveTemplate(template: string, rep: { id: string; bandwidth: number }, number: number, time: number): string {
  return template.replace(/\$(\w*)(?:%0(\d+)d)?\$/g, (_m, name: string, width: string | undefined) => {
    const value = { '': '$', RepresentationID: rep.id, Number: String(number), Time: String(time), Bandwidth: String(rep.bandwidth) }[name];
    if (value === undefined) throw fail(`unknown identifier $${name}$ in template ${template}`);
    return width && name ? value.padStart(Number(width), '0') : value;
  });
}

interface Totals {
  samples: number;
  seconds: number;
  maxSegmentSeconds: number;
}

/**
 * Reads every segment of one playlist/Representation. Video segments must start with a keyframe
 * and last at most maxSeconds + one frame; each segment's declared duration (EXTINF, S@d) must
 * match its samples within one frame (one audio frame for audio-only). Totals per handler.
 */
export async function verifyTrackSegments(
  what: string, dir: string, init: InitTrack[], segs: { uri: string; declared: number }[], frame: number, maxSeconds: number, maxFrameInterval = 0,
): Promise<Map<string, Totals>> {
  const overrun = Math.max(frame, maxFrameInterval) + 1e-6;
  const totals = new Map<string, Totals>(init.map((t) => [t.handler, { samples: 0, seconds: 0, maxSegmentSeconds: 0 }]));
  const declaredBy = init.find((t) => t.handler === 'vide') ?? init[0];
  // A wrong declared duration is reported only when no segment is broken outright: a cut off
  // the keyframes also skews the durations the muxer wrote, and the cut is the cause to name.
  let misdeclared: VidfleetError | undefined;
  for (const seg of segs) {
    const parsed = await readSegment(join(dir, seg.uri), init).catch((err: NodeJS.ErrnoException) => {
      throw fail(`${what}: segment ${seg.uri} ${err.code === 'ENOENT' ? 'is missing' : `is damaged (${err.message})`}`);
    });
    for (const track of init) {
      const got = parsed.get(track.id);
      if (!got?.samples) throw fail(`${what}: segment ${seg.uri} has no ${track.handler === 'vide' ? 'video' : track.handler} samples`);
      const seconds = got.duration / track.timescale;
      const tolerance = (track.handler === 'vide' ? frame : seconds / got.samples) + 1e-6;
      if (track.handler === 'vide' && !got.startsWithSync) throw fail(`${what}: segment ${seg.uri} does not start with a keyframe`);
      if (track.handler === 'vide' && seconds > maxSeconds + overrun) {
        throw fail(`${what}: segment ${seg.uri} lasts ${seconds.toFixed(3)} s, more than ${maxSeconds} s + ${maxFrameInterval > frame ? `the longest frame gap (${maxFrameInterval.toFixed(3)} s)` : 'one frame'}`);
      }
      if (track === declaredBy && Math.abs(seconds - seg.declared) > tolerance) misdeclared ??= fail(`${what}: segment ${seg.uri} is declared as ${seg.declared} s but its samples last ${seconds.toFixed(3)} s`);
      const sum = totals.get(track.handler)!;
      sum.samples += got.samples;
      sum.seconds += seconds;
      sum.maxSegmentSeconds = Math.max(sum.maxSegmentSeconds, seconds);
    }
  }
  if (misdeclared) throw misdeclared;
  return totals;
}

/** ffprobe's packet count per stream of the streams `select` picks; other streams are discarded unread. */
export async function countPackets(manifest: string, select: string, signal?: AbortSignal): Promise<{ type: string; packets: number; id: string | undefined }[]> {
  const args = ['-v', 'error', '-protocol_whitelist', 'file', '-select_streams', select, '-count_packets',
    '-show_entries', 'stream=index,codec_type,nb_read_packets:stream_tags=id', '-of', 'json', ffmpegInputArg(manifest)];
  const res = await runProcess(ffprobeBinary(), args, { signal, timeoutMs: 600_000 });
  if (res.exitCode !== 0) throw fail(`ffprobe could not read ${manifest} (streams ${select}): ${lastFfmpegLine(res.stderr) ?? `exit code ${res.exitCode}`}`);
  const streams = (JSON.parse(res.stdout) as { streams?: { codec_type?: string; nb_read_packets?: string; tags?: { id?: string } }[] }).streams ?? [];
  return streams.map((s) => ({ type: s.codec_type ?? '', packets: Number(s.nb_read_packets ?? 0), id: s.tags?.id }));
}

export interface ExpectedRendition {
  name: string;
  frames: number;
  durationSeconds: number;
}

export interface VerifyReport {
  renditions: { name: string; frames: number; durationSeconds: number; segments: number; maxSegmentSeconds: number }[];
}

export interface VerifyOptions {
  /** The packaging's segmentSeconds; defaults to the playlist's target duration / the MPD's maxSegmentDuration. */
  segmentSeconds?: number;
  /**
   * The source's longest gap between frames (VFR): a segment ends at the first frame after its
   * boundary, so it may run over by this instead of one frame.
   */
  maxFrameInterval?: number;
  signal?: AbortSignal;
}

function checkTotals(name: string, want: ExpectedRendition, video: Totals | undefined, frame: number): void {
  if (!video) throw fail(`${name}: the package has no video track`);
  if (video.samples !== want.frames) throw fail(`${name}: its segments hold ${video.samples} frames, expected ${want.frames}`);
  if (Math.abs(video.seconds - want.durationSeconds) > frame + 1e-6) throw fail(`${name}: its segments last ${video.seconds.toFixed(3)} s, expected ${want.durationSeconds} s`);
}

/** Checks hls/master.m3u8 and every variant it lists against the renditions the package was made from. */
export async function verifyHls(masterPath: string, expected: ExpectedRendition[], options: VerifyOptions = {}): Promise<VerifyReport> {
  const root = dirname(masterPath);
  const variants = parseMaster(await readFile(masterPath, 'utf8'));
  const names = variants.map((v) => dirname(v.uri));
  if (variants.length !== expected.length || expected.some((e) => !names.includes(e.name))) {
    throw fail(`master playlist lists ${names.join(', ') || 'no variants'}; expected ${expected.map((e) => e.name).join(', ')}`);
  }
  const report: VerifyReport = { renditions: [] };
  for (const [i, v] of variants.entries()) {
    const want = expected.find((e) => e.name === names[i])!;
    const dir = join(root, dirname(v.uri));
    const playlist = parseMediaPlaylist(await readFile(join(root, v.uri), 'utf8').catch(() => { throw fail(`${want.name}: ${v.uri} is missing`); }));
    if (!playlist.ended || !playlist.map) throw fail(`${want.name}: ${v.uri} is not a finished fMP4 VOD playlist (EXT-X-ENDLIST or EXT-X-MAP missing)`);
    const init = parseInit(await readFile(join(dir, playlist.map)).catch(() => { throw fail(`${want.name}: ${playlist.map} is missing`); }));
    const videoTrack = init.find((t) => t.handler === 'vide');
    const codecs = codecsOf(init);
    if (v.attrs.CODECS !== codecs) throw fail(`${want.name}: master says CODECS="${v.attrs.CODECS}" but ${playlist.map} holds ${codecs}`);
    if (v.attrs.RESOLUTION !== `${videoTrack?.width}x${videoTrack?.height}`) throw fail(`${want.name}: master says RESOLUTION=${v.attrs.RESOLUTION} but the video is ${videoTrack?.width}x${videoTrack?.height}`);
    const frame = want.durationSeconds / want.frames;
    const max = options.segmentSeconds ?? playlist.target;
    const totals = await verifyTrackSegments(want.name, dir, init, playlist.segments.map((s) => ({ uri: s.uri, declared: s.duration })), frame, max, options.maxFrameInterval);
    const video = totals.get('vide');
    checkTotals(want.name, want, video, frame);
    const listed = playlist.segments.reduce((a, s) => a + s.duration, 0);
    if (Math.abs(listed - want.durationSeconds) > frame + 1e-6) throw fail(`${want.name}: ${v.uri} adds up to ${listed.toFixed(3)} s, expected ${want.durationSeconds} s`);
    // ffprobe's HLS demuxer numbers programs in the master's variant order.
    for (const s of await countPackets(masterPath, `p:${i}`, options.signal)) {
      const boxes = totals.get(s.type === 'video' ? 'vide' : 'soun')?.samples;
      if (s.packets !== boxes) throw fail(`${want.name}: ffprobe reads ${s.packets} ${s.type} packets through the master playlist, the segments hold ${boxes}`);
    }
    report.renditions.push({ name: want.name, frames: video!.samples, durationSeconds: video!.seconds, segments: playlist.segments.length, maxSegmentSeconds: video!.maxSegmentSeconds });
  }
  return report;
}

/**
 * Checks dash/manifest.mpd: `expected` lists the renditions in the order they were packaged
 * (video Representations in MPD order). ffprobe reads each Representation alone: ffmpeg 5.1's
 * dash demuxer ends every stream as soon as the first one ends, losing the tails of the others.
 */
export async function verifyDash(mpdPath: string, expected: ExpectedRendition[], options: VerifyOptions = {}): Promise<VerifyReport> {
  const root = dirname(mpdPath);
  const mpd = parseMpd(await readFile(mpdPath, 'utf8'));
  const videos = mpd.representations.filter((r) => r.contentType === 'video');
  if (videos.length !== expected.length) throw fail(`manifest.mpd has ${videos.length} video Representations; expected ${expected.length}`);
  const max = options.segmentSeconds ?? mpd.maxSegmentDuration;
  if (!max) throw fail('manifest.mpd has no maxSegmentDuration; pass segmentSeconds');
  const report: VerifyReport = { renditions: [] };
  const boxSamples = new Map<string, number>();
  for (const rep of mpd.representations) {
    const want = rep.contentType === 'video' ? expected[videos.indexOf(rep)]! : undefined;
    const what = want ? `${want.name} (Representation ${rep.id})` : `${rep.contentType} Representation ${rep.id}`;
    const initName = resolveTemplate(rep.initialization, rep, 0, 0);
    const init = parseInit(await readFile(join(root, initName)).catch(() => { throw fail(`${what}: ${initName} is missing`); }));
    if (init.map((t) => t.codec).join(',') !== rep.codecs) throw fail(`${what}: the MPD says codecs="${rep.codecs}" but ${initName} holds ${init.map((t) => t.codec).join(',')}`);
    const segs = rep.segments.map((s) => ({ uri: resolveTemplate(rep.media, rep, s.number, s.time), declared: s.duration / rep.timescale }));
    const frame = want ? want.durationSeconds / want.frames : 0;
    const totals = await verifyTrackSegments(what, root, init, segs, frame, max, options.maxFrameInterval);
    const track = [...totals.values()][0]!;
    boxSamples.set(rep.id, track.samples);
    if (!want) continue;
    checkTotals(what, want, totals.get('vide'), frame);
    report.renditions.push({ name: want.name, frames: track.samples, durationSeconds: track.seconds, segments: segs.length, maxSegmentSeconds: track.maxSegmentSeconds });
  }
  for (let i = 0; i < mpd.representations.length; i++) {
    const [s] = await countPackets(mpdPath, String(i), options.signal);
    if (!s || s.packets !== boxSamples.get(s.id ?? '')) throw fail(`Representation ${s?.id}: ffprobe reads ${s?.packets} packets through manifest.mpd, the segments hold ${boxSamples.get(s?.id ?? '')}`);
  }
  return report;
}
