// ffmpeg argument vectors for the chunked transcode, pure so every choice is unit-tested
// without running ffmpeg. Measured on ffmpeg 5.1 (Debian 12):
// - `-ss` before `-i` is an accurate seek: ffmpeg decodes from the previous keyframe and drops
//   frames before the position with a trim filter, so seeking halfway between the chunk's first
//   frame and the one before it, then `-frames:v N`, gives exactly the planned frames, also in
//   an open-GOP MPEG-2 stream (its leading B-frames are decoded from the next GOP).
// - mp4 defaults to constant frame rate (frames duplicated or dropped); `-fps_mode passthrough`
//   keeps every source timestamp, and `-enc_time_base -1` keeps them at the source's precision.
// - libsvtav1 (SVT-AV1 1.4 through ffmpeg 5.1) ignores -force_key_frames: only the first frame
//   and every `-g` frames are keys. So an AV1 chunk with segment starts inside is encoded in
//   parts that each begin at a segment start (ChunkPart), then joined.
import { VidfleetError, toneMapCurve } from '../../protocol/index.js';
import { toneMapFilters } from '../stills.js';
import type { AudioSpec, ChunkPlan, RenditionSpec, ResolvedRendition, SourceFacts, VideoCodec } from './types.js';

const X26X_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow', 'placebo'];
const DEFAULT_CRF: Record<VideoCodec, number> = { h264: 23, hevc: 28, av1: 35 };
const CRF_MAX: Record<VideoCodec, number> = { h264: 51, hevc: 51, av1: 63 };

/** Whether the encoder honours -force_key_frames (see the header about SVT-AV1). */
export function canForceKeyframes(codec: VideoCodec): boolean {
  return codec !== 'av1';
}

/**
 * A segment start is the first frame at or after (boundary − KEY_SLACK): forced keyframes,
 * AV1 parts and the checks all use this one rule, so a frame a hair early is not disputed.
 */
export const KEY_SLACK = 1e-3;

/** Seconds as ffmpeg reads them: fixed microseconds, never exponent notation. */
export const secs = (s: number): string => (Math.round(s * 1e6) / 1e6).toFixed(6);

export function validateRateControl(spec: RenditionSpec, where: string): void {
  const bad = (msg: string): never => {
    throw new VidfleetError('INVALID_PARAMS', `${where}: ${msg}`);
  };
  if (!['h264', 'hevc', 'av1'].includes(spec.codec)) bad(`codec must be h264, hevc or av1 (got ${String(spec.codec)}).`);
  if (spec.crf !== undefined && spec.bitrateKbps !== undefined) bad('give either crf (constant quality) or bitrateKbps, not both.');
  if (spec.crf !== undefined && !(Number.isFinite(spec.crf) && spec.crf >= 0 && spec.crf <= CRF_MAX[spec.codec])) bad(`crf must be 0-${CRF_MAX[spec.codec]} for ${spec.codec}.`);
  for (const k of ['bitrateKbps', 'maxrateKbps', 'bufsizeKbps'] as const) {
    const v = spec[k];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) bad(`${k} must be a positive integer (got ${String(v)}).`);
  }
  if (spec.codec === 'av1' && (spec.maxrateKbps !== undefined || spec.bufsizeKbps !== undefined)) bad('maxrateKbps/bufsizeKbps are not supported for av1 (libsvtav1 has no VBV cap here).');
  if (spec.preset !== undefined) {
    const ok = spec.codec === 'av1' ? /^(?:[0-9]|1[0-3])$/.test(spec.preset) : X26X_PRESETS.includes(spec.preset);
    if (!ok) bad(`preset "${spec.preset}" is not a ${spec.codec} preset (${spec.codec === 'av1' ? '0-13' : X26X_PRESETS.join(', ')}).`);
  }
  for (const k of ['profile', 'level'] as const) {
    const v = spec[k];
    if (v !== undefined && !/^[A-Za-z0-9.]{1,16}$/.test(v)) bad(`${k} "${v}" is not a profile/level name.`);
  }
}

/**
 * MP4 track timescale for a chunk: the source time base's denominator when it is fine enough
 * (every source timestamp, a multiple of num/den, is then a whole number of ticks), doubled up
 * to 10000 like ffmpeg's own mp4 muxer does (a multiple, so still exact); 90 kHz for time bases
 * finer than a microsecond.
 */
export function trackTimescale(timeBase: { num: number; den: number }): number {
  if (!(timeBase.num > 0 && Number.isInteger(timeBase.den) && timeBase.den > 0) || timeBase.den > 1_000_000) return 90_000;
  let t = timeBase.den;
  while (t < 10_000) t *= 2;
  return t;
}

/** Keyframe distance: a segment (or 2 s) of frames at the average rate. */
export function keyint(fps: number, segmentSeconds?: number): number {
  const seconds = segmentSeconds && segmentSeconds > 0 ? segmentSeconds : 2;
  return Math.max(1, Math.round((fps > 0 ? fps : 25) * seconds));
}

/**
 * Segment starts inside a chunk, relative to its first frame: the multiples of segmentSeconds
 * on the output timeline (t = 0 at the source's first video frame) after the chunk's start.
 */
export function segmentKeyTimes(chunk: ChunkPlan, facts: SourceFacts, segmentSeconds?: number): number[] {
  if (!segmentSeconds || !(segmentSeconds > 0)) return [];
  const from = chunk.start - facts.videoStart;
  // A boundary after the chunk's last frame (in the gap before the next chunk, as with a 30 fps
  // clip whose frames sit at 0.967 and 1.001 around a 1 s boundary) belongs to the next chunk,
  // which starts on a keyframe anyway; asking this chunk for it asked for a frame it does not have.
  const inside = (t: number): boolean => t < chunk.end - facts.videoStart - 1e-3 && (chunk.last === undefined || t <= chunk.last - facts.videoStart + KEY_SLACK);
  const out: number[] = [];
  // A millisecond of slack so a boundary that is the chunk's own start is not asked for twice.
  for (let k = Math.floor((from + 1e-3) / segmentSeconds) + 1; inside(k * segmentSeconds); k++) out.push(k * segmentSeconds - from);
  return out;
}

/** HDR → SDR for an 8-bit rung of an HDR source (zscale: the planner requires it of chunk workers). */
export function toneMap(facts: SourceFacts, r: RenditionSpec): string[] {
  const curve = toneMapCurve(facts, r);
  return curve && facts.color ? toneMapFilters(facts.color, curve, true) : [];
}

/** What makes a frame one rung's: its size, square pixels, SDR for an 8-bit rung of HDR, its pixel format. */
export function rungFilters(facts: SourceFacts, r: ResolvedRendition): string[] {
  return [`scale=${r.width}:${r.height}`, 'setsar=1', ...toneMap(facts, r), `format=${pixelFormat(r)}`];
}

export function videoFilters(facts: SourceFacts, r: ResolvedRendition, part?: ChunkPart): string {
  const f: string[] = [];
  // A part's end on the clock that starts at its seek point. Not an input -t: that is counted
  // from the first frame kept, not from the seek point, and took one frame too many (measured).
  if (part?.seconds) f.push(`trim=end=${secs(part.seconds)}`);
  // send_frame: one output frame per input frame, so the plan's frame counts still hold.
  if (facts.interlaced) f.push('bwdif=mode=send_frame:parity=auto:deint=all');
  f.push(...rungFilters(facts, r));
  // The chunk file starts at 0 so the merge can place it by its source offset alone. A part
  // (see ChunkPart) keeps its offset from the seek point instead: it is where it starts.
  if (!part) f.push('setpts=PTS-STARTPTS');
  return f.join(',');
}

function pixelFormat(r: RenditionSpec): string {
  return r.codec !== 'h264' && /10/.test(r.profile ?? '') ? 'yuv420p10le' : 'yuv420p';
}

function rateArgs(r: RenditionSpec): string[] {
  if (r.bitrateKbps !== undefined) {
    const max = r.maxrateKbps ?? r.bitrateKbps;
    const cap = r.codec === 'av1' ? [] : ['-maxrate', `${max}k`, '-bufsize', `${r.bufsizeKbps ?? 2 * max}k`];
    return ['-b:v', `${r.bitrateKbps}k`, ...cap];
  }
  const crf = ['-crf', String(r.crf ?? DEFAULT_CRF[r.codec])];
  // Capped CRF: quality target, but a peak an HLS/DASH player can plan for.
  if (r.maxrateKbps !== undefined && r.codec !== 'av1') crf.push('-maxrate', `${r.maxrateKbps}k`, '-bufsize', `${r.bufsizeKbps ?? 2 * r.maxrateKbps}k`);
  return crf;
}

/** Encoder arguments: closed GOPs (a chunk must decode on its own), keyint bounded, scene cuts allowed. */
export function videoCodecArgs(r: RenditionSpec, o: { fps: number; segmentSeconds?: number }): string[] {
  const k = keyint(o.fps, o.segmentSeconds);
  const profile = r.profile ? ['-profile:v', r.profile] : [];
  switch (r.codec) {
    case 'h264':
      return [
        '-c:v', 'libx264', '-preset', r.preset ?? 'veryfast', ...rateArgs(r), '-profile:v', r.profile ?? 'high',
        ...(r.level ? ['-level:v', r.level] : []), '-x264-params', `keyint=${k}:scenecut=40:open-gop=0`,
      ];
    case 'hevc':
      // hvc1: the tag Apple players require; forced keyframes as IDR so segments start clean.
      return [
        '-c:v', 'libx265', '-preset', r.preset ?? 'veryfast', ...rateArgs(r), ...profile, '-tag:v', 'hvc1', '-forced-idr', '1',
        '-x265-params', `keyint=${k}:scenecut=40:open-gop=0:log-level=error${r.level ? `:level-idc=${r.level}` : ''}`,
      ];
    case 'av1':
      // irefresh-type=2: key frames (closed GOP), not SVT's forward keyframes.
      return ['-c:v', 'libsvtav1', '-preset', r.preset ?? '8', ...rateArgs(r), '-g', String(k), '-svtav1-params', `irefresh-type=2${r.level ? `:level=${r.level}` : ''}`];
  }
}

/**
 * A time window of a chunk encoded on its own, for encoders that cannot force keyframes: each
 * segment start becomes the first frame of a part, hence a keyframe. Frames with source times in
 * [from, from + seconds) are taken (all remaining `frames` for the last part).
 */
export interface ChunkPart {
  from: number;
  seconds: number | null;
  frames: number | null;
}

export interface VideoChunkArgs {
  inputArg: string;
  facts: SourceFacts;
  chunk: ChunkPlan;
  rendition: ResolvedRendition;
  segmentSeconds?: number;
  out: string;
  protocolWhitelist: string;
  part?: ChunkPart;
}

/**
 * Where a chunk's encode seeks: a quarter of a stream tick before its first frame, a keyframe.
 * ffmpeg starts decoding at the last keyframe at or before the seek point, so seeking half a frame
 * early (as the plan's seekFrom would) started at the previous GOP and decoded a whole GOP for
 * nothing: 250 of 1500 frames per rung in bench/transcode (+6 % CPU). A quarter tick still sits
 * before the frame however the seconds are rounded back to ticks, so the frame is kept.
 */
export function seekPoint(chunk: ChunkPlan, facts: SourceFacts): number {
  const tick = facts.timeBase.num > 0 && facts.timeBase.den > 0 ? facts.timeBase.num / facts.timeBase.den : 1 / 90_000;
  const gap = chunk.seekFrom !== undefined ? chunk.start - chunk.seekFrom : 0.5 / (facts.fps > 0 ? facts.fps : 25);
  return Math.max(0, chunk.start - Math.min(gap, Math.max(tick / 4, 2e-6)));
}

export function videoChunkArgs(o: VideoChunkArgs): string[] {
  const { facts, chunk, part } = o;
  const seek = part ? Math.max(0, part.from) : seekPoint(chunk, facts);
  const keys = canForceKeyframes(o.rendition.codec) && !part ? segmentKeyTimes(chunk, facts, o.segmentSeconds) : [];
  const frames = part ? part.frames : chunk.frames;
  return [
    '-hide_banner', '-nostdin', '-v', 'level+warning', '-nostats', '-progress', 'pipe:1', '-y',
    '-protocol_whitelist', o.protocolWhitelist, '-ss', secs(seek), '-i', o.inputArg,
    '-map', facts.videoStream === undefined ? '0:V:0' : `0:${facts.videoStream}`, '-an', '-sn', '-dn', '-map_chapters', '-1',
    ...(frames === null ? [] : ['-frames:v', String(frames)]), '-fps_mode', 'passthrough', '-enc_time_base:v', '-1',
    '-vf', videoFilters(facts, o.rendition, part),
    ...videoCodecArgs(o.rendition, { fps: facts.fps, segmentSeconds: o.segmentSeconds }),
    ...(keys.length ? ['-force_key_frames', keys.map((t) => secs(t - KEY_SLACK)).join(',')] : []),
    '-video_track_timescale', String(trackTimescale(facts.timeBase)), '-f', 'mp4', o.out,
  ];
}

/** Output rate: opus only takes 48 kHz here; aac keeps a standard source rate. */
export function audioSampleRate(facts: SourceFacts, spec: AudioSpec): number {
  const src = facts.audio?.sampleRate ?? 48_000;
  if (spec.codec === 'opus') return 48_000;
  return [44_100, 48_000, 32_000, 22_050, 24_000, 16_000].includes(src) ? src : 48_000;
}

/**
 * Audio on the video's clock: timestamps shifted so the first video frame is 0, then aresample
 * with first_pts=0 pads silence before a late start and drops samples before an early one (and
 * fills gaps inside); apad + atrim make it exactly as long as the video.
 */
export function audioFilters(facts: SourceFacts, sampleRate: number): string {
  const samples = Math.round(facts.duration * sampleRate);
  return [`asetpts=PTS-${secs(facts.videoStart)}/TB`, `aresample=${sampleRate}:async=1:first_pts=0`, 'apad', `atrim=end_sample=${samples}`].join(',');
}

export interface AudioArgs {
  inputArg: string;
  facts: SourceFacts;
  audio: AudioSpec;
  out: string;
  protocolWhitelist: string;
}

export function audioArgs(o: AudioArgs): string[] {
  if (!o.facts.audio) throw new VidfleetError('INVALID_PARAMS', 'The source has no audio stream: there is no audio to encode.');
  const rate = audioSampleRate(o.facts, o.audio);
  return [
    '-hide_banner', '-nostdin', '-v', 'level+warning', '-nostats', '-progress', 'pipe:1', '-y',
    '-protocol_whitelist', o.protocolWhitelist, '-i', o.inputArg,
    '-map', `0:${o.facts.audio.index}`, '-vn', '-sn', '-dn', '-map_chapters', '-1',
    '-af', audioFilters(o.facts, rate), '-ac', String(o.audio.channels),
    '-c:a', o.audio.codec === 'opus' ? 'libopus' : 'aac', '-b:a', `${o.audio.bitrateKbps}k`,
    // mp4 explicitly: the .m4a (ipod) muxer refuses opus.
    '-f', 'mp4', o.out,
  ];
}
