// What a file is, from ffprobe's JSON. `normaliseProbe` is pure (raw JSON in, ProbeReport out)
// so every oddity of real files can be pinned by unit tests; `probeFile` runs ffprobe and turns
// its failures — and files without a usable video stream — into catalog errors.
import type { HdrFormat, ProbeAudio, ProbeReport, ProbeStream, ProbeVideo } from '../protocol/index.js';
import { VidfleetError } from '../protocol/index.js';
import { classifyFailure, readInputHead } from './errors.js';
import { ffmpegInputArg, ffprobeBinary, PROTOCOL_WHITELIST, runProcess } from './process.js';

export interface RawStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  codec_long_name?: string;
  codec_tag_string?: string;
  profile?: string;
  width?: number;
  height?: number;
  sample_aspect_ratio?: string;
  pix_fmt?: string;
  bits_per_raw_sample?: string;
  color_space?: string;
  color_transfer?: string;
  color_primaries?: string;
  color_range?: string;
  field_order?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  duration_ts?: number;
  duration?: string;
  bit_rate?: string;
  nb_frames?: string;
  channels?: number;
  channel_layout?: string;
  sample_rate?: string;
  disposition?: Record<string, number>;
  tags?: Record<string, string>;
  side_data_list?: Array<{ side_data_type?: string; rotation?: number }>;
}

export interface RawProbe {
  streams?: RawStream[];
  format?: {
    format_name?: string;
    format_long_name?: string;
    start_time?: string;
    duration?: string;
    size?: string;
    bit_rate?: string;
    tags?: Record<string, string>;
  };
}

const num = (v: string | number | undefined | null): number | null => {
  if (v === undefined || v === null || v === '' || v === 'N/A') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
};
const positive = (v: string | number | undefined | null): number | null => {
  const n = num(v);
  return n !== null && n > 0 ? n : null;
};
const text = (v: string | undefined | null): string | null => (v && v !== 'unknown' && v !== 'unspecified' ? v : null);

function gcd(a: number, b: number): number {
  return b ? gcd(b, a % b) : Math.abs(a);
}
function ratio(a: number, b: number): string {
  const g = gcd(a, b) || 1;
  return `${a / g}:${b / g}`;
}

/** "30000/1001" → 29.97…; "0/0" or garbage → null. */
export function parseRate(rate: string | undefined): number | null {
  const m = /^(\d+)\/(\d+)$/.exec(rate ?? '');
  if (!m) return null;
  const n = Number(m[1]);
  const d = Number(m[2]);
  return n > 0 && d > 0 ? n / d : null;
}

/** Matroska statistics tag "00:00:01.240000000" → 1.24. */
function parseTagDuration(value: string | undefined): number | null {
  const m = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value ?? '');
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

/** A 32- or 64-bit all-ones duration is a muxer's "unknown", not a length (file 11 in the corpus). */
function isSentinelDuration(s: RawStream): boolean {
  const ts = s.duration_ts;
  return ts !== undefined && (ts === 0xffffffff || ts >= 2 ** 63 - 1);
}

/** Clockwise degrees a player turns the picture. */
export function rotationOf(s: RawStream): number {
  const matrix = s.side_data_list?.find((d) => d.side_data_type === 'Display Matrix' && typeof d.rotation === 'number');
  // ffprobe reports the display matrix counter-clockwise (-90 = turn 90° clockwise); the legacy
  // `rotate` tag was already clockwise.
  const cw = matrix?.rotation !== undefined ? -matrix.rotation : (num(s.tags?.rotate) ?? 0);
  return (((Math.round(cw / 90) * 90) % 360) + 360) % 360;
}

function bitDepthOf(s: RawStream): number | null {
  const raw = positive(s.bits_per_raw_sample);
  if (raw !== null) return raw;
  const pf = s.pix_fmt;
  if (!pf) return null;
  const deep = /(?:p|gray|gbrp|rgb|bgr)(9|10|12|14|16)(?:le|be)$/.exec(pf) ?? /^(?:p|y)(010|012|016|210|216|410|416)(?:le|be)?$/.exec(pf);
  if (deep?.[1]) return Number(deep[1].length === 3 ? deep[1].slice(1) : deep[1]);
  if (/^(yuvj?4[0-4][0-4]p|nv1[26]|nv2[14]|gray|rgb24|bgr24|[ar]gb[ar]|[ab]gr[ab]|rgb0|bgr0|0rgb|0bgr|pal8|yuyv422|uyvy422)$/.test(pf)) return 8;
  return null;
}

function hdrOf(transfer: string | null, bitDepth: number | null): HdrFormat {
  if (transfer === 'smpte2084') return 'hdr10';
  if (transfer === 'arib-std-b67') return 'hlg';
  if (transfer) return 'sdr';
  // No transfer tag: 8-bit video cannot carry HDR10/HLG, deeper video might.
  return bitDepth !== null && bitDepth <= 8 ? 'sdr' : 'unknown';
}

function videoOf(s: RawStream): ProbeVideo {
  const width = s.width ?? 0;
  const height = s.height ?? 0;
  const sarMatch = /^(\d+):(\d+)$/.exec(s.sample_aspect_ratio ?? '');
  let sarN = Number(sarMatch?.[1] ?? 1);
  let sarD = Number(sarMatch?.[2] ?? 1);
  if (!(sarN > 0 && sarD > 0)) [sarN, sarD] = [1, 1]; // "0:1" means unknown
  const rotation = rotationOf(s);
  // Players stretch the width by the SAR and keep the height (as ffmpeg's scale=iw*sar:ih does).
  const stretched = Math.round((width * sarN) / sarD);
  const turned = rotation === 90 || rotation === 270;
  const bitDepth = bitDepthOf(s);
  const colorTransfer = text(s.color_transfer);
  const fieldOrder = text(s.field_order);
  return {
    width,
    height,
    sampleAspectRatio: ratio(sarN, sarD),
    displayAspectRatio: width && height ? ratio(width * sarN, height * sarD) : '0:0',
    displayWidth: turned ? height : stretched,
    displayHeight: turned ? stretched : height,
    rotation,
    frameRate: parseRate(s.avg_frame_rate) ?? parseRate(s.r_frame_rate),
    baseFrameRate: parseRate(s.r_frame_rate) === null ? null : (s.r_frame_rate ?? null),
    pixelFormat: text(s.pix_fmt),
    bitDepth,
    colorSpace: text(s.color_space),
    colorTransfer,
    colorPrimaries: text(s.color_primaries),
    colorRange: text(s.color_range),
    hdr: hdrOf(colorTransfer, bitDepth),
    fieldOrder,
    interlaced: fieldOrder !== null && fieldOrder !== 'progressive',
  };
}

function audioOf(s: RawStream): ProbeAudio {
  return { channels: positive(s.channels), channelLayout: text(s.channel_layout), sampleRate: positive(s.sample_rate) };
}

const TYPES = ['video', 'audio', 'subtitle', 'data', 'attachment'] as const;

function streamOf(s: RawStream, position: number): ProbeStream {
  const type = (TYPES as readonly string[]).includes(s.codec_type ?? '') ? (s.codec_type as ProbeStream['type']) : 'unknown';
  const bogus = isSentinelDuration(s);
  const tag = s.codec_tag_string;
  const out: ProbeStream = {
    index: s.index ?? position,
    type,
    codec: text(s.codec_name),
    codecLongName: text(s.codec_long_name),
    // "[0][0][0][0]" is how ffprobe says the container stores no tag.
    codecTag: tag && !/^(\[0\])+$/.test(tag) ? tag : null,
    profile: text(s.profile),
    language: text(s.tags?.language) === 'und' ? null : text(s.tags?.language),
    title: text(s.tags?.title),
    isDefault: s.disposition?.default === 1,
    isAttachedPicture: s.disposition?.attached_pic === 1,
    // With a bogus duration the bit rate ffprobe derived from it is bogus too.
    bitRate: bogus ? null : positive(s.bit_rate),
    duration: bogus ? null : (positive(s.duration) ?? parseTagDuration(s.tags?.DURATION)),
    frames: positive(s.nb_frames),
  };
  if (type === 'video') out.video = videoOf(s);
  if (type === 'audio') out.audio = audioOf(s);
  return out;
}

function pickPrimary(streams: ProbeStream[], ok: (s: ProbeStream) => boolean): number | null {
  const candidates = streams.map((s, i) => ({ s, i })).filter(({ s }) => ok(s));
  const chosen = candidates.find(({ s }) => s.isDefault) ?? candidates[0];
  return chosen ? chosen.i : null;
}

const usableVideo = (s: ProbeStream): boolean => s.type === 'video' && !s.isAttachedPicture && !!s.video && s.video.width > 0 && s.video.height > 0;

export function normaliseProbe(raw: RawProbe): ProbeReport {
  const warnings: string[] = [];
  const rawStreams = raw.streams ?? [];
  const streams = rawStreams.map(streamOf);
  const format = raw.format ?? {};
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(format.tags ?? {})) tags[k] = String(v);
  const size = positive(format.size);

  const declared = positive(format.duration);
  const streamMax = Math.max(0, ...streams.map((s) => s.duration ?? 0)) || null;
  const bogusRaw = rawStreams.filter(isSentinelDuration).map((s) => positive(s.duration) ?? 0);
  let duration = declared ?? streamMax;
  let bitRate = positive(format.bit_rate);
  const hasVideo = streams.some(usableVideo);
  if (declared !== null) {
    const impliedBps = size !== null ? (size * 8) / declared : null;
    const echoesBogusStream = bogusRaw.some((d) => d > 0 && declared >= d - 1);
    if (echoesBogusStream || (hasVideo && impliedBps !== null && impliedBps < 500)) {
      const why = echoesBogusStream ? 'copied from an all-ones "unknown" marker' : `it would mean ${impliedBps?.toFixed(1)} bit/s`;
      warnings.push(`The container declares a duration of ${declared.toFixed(3)} s, which is bogus (${why}); the duration is treated as unknown.`);
      duration = streamMax;
      bitRate = null;
    } else if (streamMax !== null && declared > streamMax * 10 && declared - streamMax > 60) {
      warnings.push(`The container declares ${declared.toFixed(3)} s but its streams end by ${streamMax.toFixed(3)} s; using the streams' duration.`);
      duration = streamMax;
      bitRate = size !== null ? Math.round((size * 8) / streamMax) : null;
    }
  }
  if (duration === null && declared === null) warnings.push('The container declares no duration (typical of live recordings such as MediaRecorder files); positions by fraction are unavailable.');

  for (const s of streams) {
    if (s.type === 'video' && s.video && (s.video.width === 0 || s.video.height === 0)) {
      warnings.push(`Video stream #${s.index} has no picture size (0x0): ffprobe found no decodable header for it.`);
    }
    if (s.video?.frameRate && s.video.frameRate > 300 && !s.isAttachedPicture) {
      warnings.push(`Video stream #${s.index} declares ${Math.round(s.video.frameRate)} fps, which is implausible: its timestamps are coarse or broken, so do not trust frameRate.`);
    }
  }
  const primaryVideo = pickPrimary(streams, usableVideo);
  const videoCount = streams.filter(usableVideo).length;
  if (videoCount > 1 && primaryVideo !== null) {
    warnings.push(`The file has ${videoCount} video streams; stream #${streams[primaryVideo]?.index} is taken as the main one.`);
  }

  return {
    container: {
      format: format.format_name ?? 'unknown',
      formatLongName: text(format.format_long_name),
      majorBrand: tags.major_brand?.trim() || null,
      size,
      startTime: num(format.start_time),
      tags,
    },
    duration,
    bitRate,
    streams,
    primaryVideo,
    primaryAudio: pickPrimary(streams, (s) => s.type === 'audio'),
    warnings,
  };
}

export interface ProbeOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Runs ffprobe and returns the raw JSON; failures become catalog errors. */
export async function probeRaw(input: string, options: ProbeOptions = {}): Promise<RawProbe> {
  const arg = ffmpegInputArg(input);
  const args = ['-v', 'error', '-protocol_whitelist', PROTOCOL_WHITELIST, '-print_format', 'json', '-show_format', '-show_streams', arg];
  const res = await runProcess(ffprobeBinary(), args, { signal: options.signal, timeoutMs: options.timeoutMs ?? 120_000 });
  if (res.exitCode !== 0) {
    const head = await readInputHead(arg);
    throw classifyFailure({ tool: 'ffprobe', input, inputArg: arg, stderr: res.stderr, exitCode: res.exitCode, action: 'could not read', head });
  }
  let parsed: RawProbe;
  try {
    parsed = JSON.parse(res.stdout) as RawProbe;
  } catch (err) {
    throw new VidfleetError('FFMPEG_FAILED', `ffprobe printed output that is not JSON for ${input}: ${(err as Error).message}`, { cause: err });
  }
  return parsed;
}

/** Probes a file and insists it has a video stream a decoder can use. */
export async function probeFile(input: string, options: ProbeOptions = {}): Promise<ProbeReport> {
  const report = normaliseProbe(await probeRaw(input, options));
  // ffmpeg's tty demuxer "plays" any text file (.txt, .ans, …) as ANSI art: a video stream
  // that no one would call a video.
  if (report.container.format === 'tty') {
    throw new VidfleetError('NOT_A_VIDEO', `${input} is a text file, not a video (ffprobe can only render it as ANSI art). Check that this is the right file.`);
  }
  if (report.primaryVideo === null) {
    const kinds = report.streams.map((s) => (s.type === 'video' && s.video ? `video ${s.video.width}x${s.video.height}` : s.type));
    const found = kinds.length ? `it has ${kinds.join(', ')}` : 'it has no streams';
    const why = report.streams.some((s) => s.type === 'video') ? 'its video stream cannot be decoded (no picture size)' : 'it has no video stream';
    throw new VidfleetError('NOT_A_VIDEO', `${input} is not a usable video: ${why} (${found}). Check that this is the right file.`, {
      details: { streams: kinds },
    });
  }
  return report;
}
