// A synthetic clip whose every frame and every second can be identified after any transcode:
// a big whole-second counter over testsrc2 (for people), a bar of black/white blocks at the
// bottom holding the frame number in binary (for tests: frameCodes reads it back, so "frame k
// of the output is frame k of the source" is measured, not assumed), and a 100 ms 1 kHz beep at
// each whole second of the source clock (beepOnsets finds them, so A/V drift is measurable).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findFont } from '../../src/media/drawtext.js';
import { CLIP_DIR } from './clips.js';

const run = promisify(execFile);
const FFMPEG = process.env.VIDFLEET_FFMPEG || 'ffmpeg';
const FFPROBE = process.env.VIDFLEET_FFPROBE || 'ffprobe';

/** Bits of the frame-number bar: up to 16383 frames (10 min at 25 fps). */
export const CODE_BITS = 14;

export interface CounterClipOptions {
  seconds: number;
  width: number;
  height: number;
  fps: number;
  audio: boolean;
  /** Keyframe interval in frames (default 2 s). */
  gop?: number;
  container?: 'mp4' | 'mkv' | 'ts';
  /** The video stream starts this late (s; frames before are cut, timestamps kept). */
  videoDelay?: number;
  /** The audio stream starts this late (s; samples before are cut, timestamps kept). */
  audioDelay?: number;
}

/** Size of one bar block and the bar's height, as drawn on a width×height source. */
function bar(width: number, height: number): { block: number; h: number } {
  return { block: Math.floor(width / CODE_BITS), h: Math.max(8, 2 * Math.round(height / 36)) };
}

async function build(o: Required<CounterClipOptions>, out: string): Promise<string> {
  const { block, h } = bar(o.width, o.height);
  const bits = Array.from({ length: CODE_BITS }, (_, b) => `drawbox=x=${b * block}:y=ih-${h}:w=${block}:h=${h}:color=white:t=fill:enable='mod(floor(n/${2 ** b}),2)'`);
  const font = await findFont();
  const counter = font
    ? [`drawtext=fontfile='${font}':text='%{eif\\:floor(t)\\:d}':fontsize=${Math.round(o.height / 3)}:fontcolor=white:box=1:boxcolor=black@0.6:x=(w-tw)/2:y=(h-th)/2`]
    : [];
  const v = [`drawbox=x=0:y=ih-${h}:w=${block * CODE_BITS}:h=${h}:color=black:t=fill`, ...bits, ...counter, ...(o.videoDelay ? [`trim=start=${o.videoDelay}`] : [])];
  const args = ['-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}:duration=${o.seconds}`];
  let graph = `[0:v]${v.join(',')}[v]`;
  if (o.audio) {
    args.push('-f', 'lavfi', '-i', `aevalsrc=exprs='0.5*sin(2*PI*1000*t)*lt(mod(t,1),0.1)':s=48000:d=${o.seconds}`);
    graph += `;[1:a]${o.audioDelay ? `atrim=start=${o.audioDelay}` : 'anull'}[a]`;
  }
  args.push('-filter_complex', graph, '-map', '[v]', ...(o.audio ? ['-map', '[a]', '-c:a', o.container === 'mp4' ? 'aac' : 'mp2', '-b:a', '128k'] : []));
  // ultrafast alone has no B-frames; -bf 3 puts them back so chunks see real reordering.
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '3', '-crf', '26', '-g', String(o.gop), '-pix_fmt', 'yuv420p', '-fps_mode', 'passthrough');
  await run(FFMPEG, ['-hide_banner', '-nostdin', '-v', 'error', '-y', ...args, out], { maxBuffer: 16 * 1024 * 1024 });
  return out;
}

const cache = new Map<string, Promise<string>>();
let made = 0;

export function makeCounterClip(options: CounterClipOptions): Promise<string> {
  const o: Required<CounterClipOptions> = { gop: 2 * options.fps, container: 'mp4', videoDelay: 0, audioDelay: 0, ...options };
  const key = JSON.stringify(o);
  let pending = cache.get(key);
  if (!pending) {
    pending = build(o, join(CLIP_DIR, `counter-${++made}.${o.container}`));
    cache.set(key, pending);
  }
  return pending;
}

/**
 * The frame number each decoded frame of `file` carries, in display order. Works on any
 * rendition of a counter clip made at sourceWidth×sourceHeight: the bar is cropped in
 * proportion and each block averaged to one grey pixel.
 */
export async function frameCodes(file: string, sourceWidth: number, sourceHeight: number): Promise<number[]> {
  const { block, h } = bar(sourceWidth, sourceHeight);
  const cropW = (block * CODE_BITS) / sourceWidth;
  const cropH = h / sourceHeight;
  const vf = `crop=w=iw*${cropW}:h=ih*${cropH}:x=0:y=ih-ih*${cropH},scale=${CODE_BITS}:1:flags=area,format=gray`;
  const { stdout } = await run(FFMPEG, ['-v', 'error', '-nostdin', '-i', file, '-map', '0:v:0', '-vf', vf, '-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1'], {
    encoding: 'buffer',
    maxBuffer: 256 * 1024 * 1024,
  });
  const codes: number[] = [];
  for (let at = 0; at + CODE_BITS <= stdout.length; at += CODE_BITS) {
    let code = 0;
    for (let b = 0; b < CODE_BITS; b++) if (stdout[at + b]! > 128) code += 2 ** b;
    codes.push(code);
  }
  return codes;
}

/**
 * Start times (s, on the file's timeline: container start = 0, as ffmpeg's -ss counts) of the
 * beeps in the first audio stream, from silencedetect. Audio that starts loud has an onset at
 * the stream's first sample; the silence_end silencedetect prints at end of stream is no onset.
 */
export async function beepOnsets(file: string): Promise<number[]> {
  const probe = await run(FFPROBE, ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=start_time,duration:format=start_time', '-of', 'json', file]);
  const info = JSON.parse(probe.stdout) as { streams?: { start_time?: string; duration?: string }[]; format?: { start_time?: string } };
  const fmtStart = Number(info.format?.start_time ?? 0) || 0;
  const start = Number(info.streams?.[0]?.start_time ?? fmtStart) - fmtStart;
  const end = start + Number(info.streams?.[0]?.duration ?? Infinity);
  const { stderr } = await run(FFMPEG, ['-hide_banner', '-nostdin', '-nostats', '-i', file, '-map', '0:a:0', '-af', 'silencedetect=noise=-30dB:d=0.05', '-f', 'null', '-'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const events = [...stderr.matchAll(/silence_(start|end): (-?[\d.]+)/g)].map((m) => ({ kind: m[1]!, t: Number(m[2]) }));
  const onsets: number[] = [];
  if (events[0]?.kind === 'start' && events[0].t > start + 0.005) onsets.push(start);
  for (const e of events) if (e.kind === 'end' && e.t < end - 0.01) onsets.push(e.t);
  return onsets;
}
