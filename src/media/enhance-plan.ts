// The ffmpeg arguments of an `enhance` task, decided from the probe and the params alone (no
// I/O), so every choice — filter order, which audio is copied, what happens to HDR — is pinned by
// unit tests. ffmpeg's autorotate turns the picture upright before our filters run.
import type { EnhanceParams, EnhanceVideoCodec, ProbeReport, ProbeStream } from '../protocol/index.js';
import { PROTOCOL_WHITELIST } from './process.js';

/** Audio codecs an MP4 carries that players handle: copied untouched in `audio: auto`. */
export const MP4_AUDIO_CODECS = new Set(['aac', 'mp3', 'ac3', 'eac3', 'opus', 'alac']);
/** Text subtitle codecs that convert to MP4 timed text (mov_text); bitmap ones cannot. */
export const TEXT_SUBTITLE_CODECS = new Set(['subrip', 'srt', 'ass', 'ssa', 'webvtt', 'mov_text', 'text', 'microdvd', 'subviewer', 'subviewer1', 'sami', 'realtext', 'jacosub', 'mpl2', 'pjs', 'vplayer', 'stl']);
/** Layouts the native AAC encoder takes as they are; others are downmixed to stereo. */
const AAC_LAYOUTS = new Set(['mono', 'stereo', '3.0', '4.0', '5.0', '5.1', '5.0(side)', '5.1(side)', '6.1', '7.1', '7.1(wide)', '7.1(wide-side)']);

export const DEFAULT_CRF: Readonly<Record<EnhanceVideoCodec, number>> = { h264: 23, hevc: 28, vp9: 32 };
export const ENCODERS: Readonly<Record<EnhanceVideoCodec, string>> = { h264: 'libx264', hevc: 'libx265', vp9: 'libvpx-vp9' };

/** HDR (PQ/HLG) to SDR BT.709: linear light, Hable curve, back to BT.709 limited range. */
export const TONEMAP_FILTERS = 'zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv';

export interface AudioPlan {
  stream: ProbeStream;
  copy: boolean;
}

export interface EnhancePlan {
  args: string[];
  /** The -vf chain. */
  filters: string;
  deinterlace: boolean;
  tonemap: boolean;
  audio: AudioPlan[];
  subtitles: { converted: number; dropped: number };
}

export interface PlanOptions {
  /** The input as ffmpeg should open it (file:… or a URL). */
  inputArg: string;
  output: string;
  /** Whether this ffmpeg has zscale (needed to tone-map HDR into 8-bit H.264). */
  canTonemap: boolean;
}

/** Fits the picture to width/height in display aspect with even sides and square pixels. */
export function enhanceScaleFilter(width?: number, height?: number): string | null {
  const even = (expr: string): string => `max(2\\,2*round((${expr})/2))`;
  if (width && height) return `scale=w=min(${width}\\,${even(`${height}*dar`)}):h=min(${height}\\,${even(`${width}/dar`)}),setsar=1`;
  if (width) return `scale=w=${width}:h=${even(`${width}/dar`)},setsar=1`;
  if (height) return `scale=w=${even(`${height}*dar`)}:h=${height},setsar=1`;
  return null;
}

/** Filters that undo ffmpeg's autorotation and redo it, so bwdif sees fields as they were coded. */
function unrotated(rotation: number, filter: string): string {
  if (rotation === 90) return `transpose=cclock,${filter},transpose=clock`;
  if (rotation === 270) return `transpose=clock,${filter},transpose=cclock`;
  if (rotation === 180) return `hflip,vflip,${filter},hflip,vflip`;
  return filter;
}

const round3 = (n: number): string => String(Math.round(n * 1000) / 1000);

export function planEnhance(probe: ProbeReport, params: EnhanceParams, options: PlanOptions): EnhancePlan {
  const video = probe.streams[probe.primaryVideo ?? -1];
  if (!video?.video) throw new Error('planEnhance needs a probe with a primary video stream');
  const v = video.video;
  const codec = params.videoCodec ?? 'h264';
  const filters: string[] = [];

  const mode = params.deinterlace ?? 'auto';
  const deinterlace = mode === 'on' || (mode === 'auto' && v.interlaced);
  if (deinterlace) filters.push(unrotated(v.rotation, `bwdif=mode=send_frame:parity=auto:deint=${mode === 'on' ? 'all' : 'interlaced'}`));

  const hdr = v.hdr === 'hdr10' || v.hdr === 'hlg';
  // 8-bit H.264 cannot carry PQ/HLG in a way players show right: map it to SDR. HEVC and VP9 keep 10 bits and the HDR tags.
  const tonemap = hdr && codec === 'h264' && options.canTonemap;
  if (tonemap) filters.push(TONEMAP_FILTERS);
  const deep = codec !== 'h264' && (v.bitDepth ?? 8) > 8;

  if (params.denoise === 'hqdn3d') filters.push(`hqdn3d=${round3(4 * (params.denoiseStrength ?? 1))}`);
  if (params.denoise === 'nlmeans') filters.push(`nlmeans=s=${round3(Math.min(30, Math.max(1, 3 * (params.denoiseStrength ?? 1))))}`);

  const scale = enhanceScaleFilter(params.width, params.height);
  if (scale) filters.push(scale);
  else if (v.width % 2 || v.height % 2) filters.push('scale=w=trunc(iw/2)*2:h=trunc(ih/2)*2'); // 4:2:0 needs even sides

  const eq: string[] = [];
  if (params.brightness !== undefined && params.brightness !== 0) eq.push(`brightness=${params.brightness}`);
  if (params.contrast !== undefined && params.contrast !== 1) eq.push(`contrast=${params.contrast}`);
  if (params.saturation !== undefined && params.saturation !== 1) eq.push(`saturation=${params.saturation}`);
  if (params.gamma !== undefined && params.gamma !== 1) eq.push(`gamma=${params.gamma}`);
  if (eq.length) filters.push(`eq=${eq.join(':')}`);
  if (params.sharpen) filters.push(`unsharp=luma_msize_x=5:luma_msize_y=5:luma_amount=${params.sharpen}`);
  filters.push(`format=${deep ? 'yuv420p10le' : 'yuv420p'}`);

  const crf = params.crf ?? DEFAULT_CRF[codec];
  const preset = params.preset ?? 'medium';
  const encode: Record<EnhanceVideoCodec, string[]> = {
    h264: ['-c:v', 'libx264', '-preset', preset, '-crf', String(crf)],
    hevc: ['-c:v', 'libx265', '-preset', preset, '-crf', String(crf), '-tag:v', 'hvc1', '-x265-params', 'log-level=error'],
    // libvpx has no presets: the same names map onto its speed (cpu-used 0 slowest … 8 fastest).
    vp9: ['-c:v', 'libvpx-vp9', '-crf', String(crf), '-b:v', '0', '-deadline', 'good', '-cpu-used', String(Math.min(8, 8 - ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'].indexOf(preset))), '-row-mt', '1'],
  };
  const colour = tonemap
    ? ['-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709']
    : [
        ...(v.colorPrimaries ? ['-color_primaries', v.colorPrimaries] : []),
        ...(v.colorTransfer ? ['-color_trc', encoderTransferName(v.colorTransfer)] : []),
        ...(v.colorSpace ? ['-colorspace', v.colorSpace] : []),
      ];

  const audioMode = params.audio ?? 'auto';
  const audio: AudioPlan[] =
    audioMode === 'none' ? [] : probe.streams.filter((s) => s.type === 'audio' && s.codec && s.audio?.channels).map((s) => ({ stream: s, copy: audioMode === 'auto' && MP4_AUDIO_CODECS.has(s.codec!) }));
  const audioArgs = audio.flatMap(({ stream, copy }, k) => {
    if (copy) return ['-map', `0:${stream.index}`, `-c:a:${k}`, 'copy'];
    const channels = stream.audio?.channels ?? 2;
    const layoutOk = stream.audio?.channelLayout ? AAC_LAYOUTS.has(stream.audio.channelLayout) : channels <= 2;
    const kbps = params.audioBitrate ?? Math.min(384, 64 * (layoutOk ? channels : 2));
    return ['-map', `0:${stream.index}`, `-c:a:${k}`, 'aac', `-b:a:${k}`, `${kbps}k`, ...(layoutOk ? [] : [`-ac:a:${k}`, '2'])];
  });

  const subtitleStreams = probe.streams.filter((s) => s.type === 'subtitle');
  const convertible = params.subtitles === 'convert' ? subtitleStreams.filter((s) => s.codec && TEXT_SUBTITLE_CODECS.has(s.codec)) : [];
  const subtitleArgs = convertible.length ? [...convertible.flatMap((s) => ['-map', `0:${s.index}`]), '-c:s', 'mov_text'] : ['-sn'];

  const vf = filters.join(',');
  // -enc_time_base -1: encode in the demuxer's time base. Left to itself the encoder takes
  // 1/frame-rate, and a variable-rate source whose frames come a few ms apart loses every frame
  // that lands on an already used tick (corpus file 23, a screen recording: 30 of 63 frames kept).
  const args = [
    '-hide_banner', '-nostdin', '-v', 'error', '-nostats', '-progress', 'pipe:1', '-y',
    '-protocol_whitelist', PROTOCOL_WHITELIST, '-i', options.inputArg,
    '-map', `0:${video.index}`, '-vf', vf, ...encode[codec], ...colour, '-fps_mode', 'vfr', '-enc_time_base:v', '-1',
    ...audioArgs, ...(audio.length ? [] : ['-an']), ...subtitleArgs, '-dn',
    '-map_chapters', '-1', '-max_muxing_queue_size', '4096', '-movflags', '+faststart', '-f', 'mp4', options.output,
  ];
  return { args, filters: vf, deinterlace, tonemap, audio, subtitles: { converted: convertible.length, dropped: subtitleStreams.length - convertible.length } };
}

/**
 * ffprobe names transfer curves by av_color_transfer_name(), but the encoders' -color_trc option
 * takes its own constants, which differ for two of them: ffprobe's "bt470m"/"bt470bg" are
 * "gamma22"/"gamma28" there (a PAL MPEG-2 MXF, corpus file 21, failed to encode with
 * "Undefined constant 'bt470bg'").
 */
export function encoderTransferName(probeName: string): string {
  return ({ bt470m: 'gamma22', bt470bg: 'gamma28' } as Record<string, string>)[probeName] ?? probeName;
}
