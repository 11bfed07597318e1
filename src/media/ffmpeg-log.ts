// Reads what a still-image ffmpeg run printed with `-v level+info`. That one log replaces two
// extra processes: the input dump says whether the video is HDR, interlaced or rotated (so a
// fixed-time thumbnail needs no ffprobe), and a named `showinfo` at the end of each chain says
// which frame was taken and how flat it is. Errors are picked out by their level tag, so the
// classifier sees exactly what `-v error` used to print and no user-controlled metadata.
import type { ProbeVideo } from '../protocol/index.js';
import { normaliseProbe, type RawStream } from './probe.js';

const LEVEL = /\[(panic|fatal|error|warning|info|verbose|debug|trace)\] /;
const SERIOUS = new Set(['panic', 'fatal', 'error']);

/** The error-level lines (level tag removed), as `-v error` would have printed them. */
export function errorLines(log: string): string {
  const kept: string[] = [];
  for (const line of log.split(/\r?\n/)) {
    const m = LEVEL.exec(line);
    if (m?.[1] && SERIOUS.has(m[1])) kept.push(line.slice(0, m.index) + line.slice(m.index + m[0].length));
    else if (line.startsWith('[... ')) kept.push(line); // the runner's "log skipped" marker
  }
  return kept.join('\n');
}

function infoLines(log: string): string[] {
  return log
    .split(/\r?\n/)
    .filter((l) => l.includes('[info] '))
    .map((l) => l.slice(l.indexOf('[info] ') + '[info] '.length));
}

/**
 * The first usable video stream of input #0 as the input dump describes it, for example
 * `Stream #0:0[0x1](und): Video: hevc (Main 10) (hvc1 / 0x31637668), yuv420p10le(tv,
 * bt2020nc/bt2020/arib-std-b67), 1920x1080, …` with a later `displaymatrix: rotation of -90.00
 * degrees`. Null when the dump has no such stream (or was cut from the log).
 */
export function sniffInputVideo(log: string): ProbeVideo | null {
  const lines = infoLines(log);
  const start = lines.findIndex((l) => /^\s*Input #0,/.test(l));
  if (start === -1) return null;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (/^\s*(Input #[1-9]|Output #|Stream mapping:)/.test(line)) break;
    const m = /^\s*Stream #0:\d+.*?: Video: [^,]*, (\w+)(?:\(([^)]*)\))?[^,]*, (\d+)x(\d+)/.exec(line);
    if (!m || /\(attached pic\)/.test(line)) continue;
    const raw: RawStream = { codec_type: 'video', pix_fmt: m[1], width: Number(m[3]), height: Number(m[4]) };
    // "[SAR 27:64 DAR 9:16] …, SAR 1:1 DAR 4:3": a second SAR is the container's, which wins.
    const sar = [...line.matchAll(/\bSAR (\d+):(\d+)/g)].at(-1);
    if (sar) raw.sample_aspect_ratio = `${sar[1]}:${sar[2]}`;
    for (const token of (m[2] ?? '').split(', ')) {
      if (/^(progressive|top|bottom)/.test(token)) raw.field_order = token === 'progressive' ? 'progressive' : token.startsWith('top') ? 'tt' : 'bb';
      else if (token.includes('/')) [raw.color_space, raw.color_primaries, raw.color_transfer] = token.split('/');
      else if (token !== 'tv' && token !== 'pc' && token) raw.color_space = raw.color_primaries = raw.color_transfer = token;
    }
    // The stream's side data follows its line, up to the next stream.
    for (let j = i + 1; j < lines.length && !/^\s*(Stream #|Input #|Output #|Stream mapping:)/.test(lines[j] ?? ''); j++) {
      const rot = /displaymatrix: rotation of (-?[\d.]+) degrees/.exec(lines[j] ?? '');
      if (rot) raw.side_data_list = [{ side_data_type: 'Display Matrix', rotation: Number(rot[1]) }];
    }
    return normaliseProbe({ streams: [raw] }).streams[0]?.video ?? null;
  }
  return null;
}

export interface ShownFrame {
  /** Seconds relative to the seek point (negative when a keyframe before it was taken). */
  ptsTime: number | null;
  /** Mean and standard deviation of the first plane (luma), in its own 8-bit code values. */
  mean: number | null;
  stdev: number | null;
}

/** The first frame a `showinfo@<tag>` instance printed. */
export function shownFrame(log: string, tag: string): ShownFrame | null {
  const marker = `[showinfo@${tag} @ `;
  for (const line of log.split(/\r?\n/)) {
    if (!line.startsWith(marker) || !/\] \[info\] n:\s*\d+ /.test(line)) continue;
    const pts = /pts_time:(-?[\d.e+-]+)/.exec(line)?.[1];
    const mean = /mean:\[(\d+)/.exec(line)?.[1];
    const stdev = /stdev:\[([\d.]+)/.exec(line)?.[1];
    const num = (v: string | undefined): number | null => (v === undefined || !Number.isFinite(Number(v)) ? null : Number(v));
    return { ptsTime: num(pts), mean: num(mean), stdev: num(stdev) };
  }
  return null;
}
