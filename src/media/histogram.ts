// Colour histograms of a video from a few frames spread evenly over it. ffmpeg scales each
// frame to 160x90 rgb24 (nearest neighbour: a subsample of real pixels, no blended colours)
// and writes raw bytes to stdout; Node bins them.
//
// How frames are reached was measured on the corpus (10 samples): one ffmpeg with one seeked
// input per sample costs what the seeks decode, from the keyframe before each time up to it
// (139 s file with 1 s GOPs: 0.3 s, where ten separate ffmpeg runs took 1.8 s). A short clip
// with one long GOP makes every seek decode nearly the whole clip again (the 4 s single-GOP
// AV1 clip: 4.9 s), where one decoding pass with a `select` filter takes 1.2 s. So clips of at
// most LINEAR_FRAMES_PER_SAMPLE frames per sample are decoded once; longer ones are seeked.
import { VidfleetError, type HdrFormat, type HistogramChannel, type ProbeHistogram, type ProbeReport } from '../protocol/index.js';
import { classifyFailure, readInputHead } from './errors.js';
import { ffmpegBinary, ffmpegInputArg, PROTOCOL_WHITELIST, runProcess } from './process.js';

export const SAMPLE_WIDTH = 160;
export const SAMPLE_HEIGHT = 90;
const FRAME_BYTES = SAMPLE_WIDTH * SAMPLE_HEIGHT * 3;
export const LINEAR_FRAMES_PER_SAMPLE = 30;
/** Seeked inputs per ffmpeg run: each is opened at start, so keep the count modest. */
const INPUTS_PER_RUN = 16;
const RUN_TIMEOUT_MS = 5 * 60_000;

export interface SamplePlan {
  method: 'seek' | 'linear';
  /** Seconds from the start of the file, ascending. */
  times: number[];
}

export interface ClipShape {
  /** Seconds of the video (its own duration when known), null when unknown. */
  duration: number | null;
  /** Frames of the video, counted or estimated; null when unknown. */
  frames: number | null;
  frameRate: number | null;
}

/**
 * Evenly spread times: the middles of N equal slices of the video, ending two frames before
 * its duration, because a seek past the last frame's start finds nothing (the last frame's
 * display time and an audio track that runs longer both count in a duration). A clip of
 * unknown length gets its first frame.
 */
export function planSamples(samples: number, clip: ClipShape): SamplePlan {
  const { duration, frames, frameRate } = clip;
  if (duration === null || !(duration > 0)) return { method: 'linear', times: [0] };
  const interval = frameRate && frameRate > 0 && frameRate <= 300 ? 1 / frameRate : 0;
  const span = Math.max(duration - 2 * interval, duration / 2);
  const times = Array.from({ length: samples }, (_, i) => Math.round(((span * (i + 0.5)) / samples) * 1e6) / 1e6);
  const linear = frames !== null && frames <= LINEAR_FRAMES_PER_SAMPLE * samples;
  return { method: linear ? 'linear' : 'seek', times };
}

/** Bins rgb24 pixels; luma is Y' from R'G'B' with BT.709 weights. */
export class HistogramAccumulator {
  private readonly counts = [0, 1, 2, 3].map(() => new Float64Array(256));
  private readonly sums = [0, 0, 0, 0];
  private readonly squares = [0, 0, 0, 0];
  private pixels = 0;
  frames = 0;

  addFrame(rgb: Uint8Array): void {
    const [r, g, b, y] = this.counts as [Float64Array, Float64Array, Float64Array, Float64Array];
    for (let i = 0; i + 2 < rgb.length; i += 3) {
      const R = rgb[i]!;
      const G = rgb[i + 1]!;
      const B = rgb[i + 2]!;
      const Y = Math.round(0.2126 * R + 0.7152 * G + 0.0722 * B);
      r[R]!++;
      g[G]!++;
      b[B]!++;
      y[Y]!++;
    }
    this.pixels += Math.floor(rgb.length / 3);
    this.frames++;
  }

  channel(c: 0 | 1 | 2 | 3, bins: number): HistogramChannel {
    const counts = this.counts[c]!;
    const out = new Array<number>(bins).fill(0);
    let sum = 0;
    let squares = 0;
    for (let v = 0; v < 256; v++) {
      const n = counts[v]!;
      out[Math.floor((v * bins) / 256)]! += n;
      sum += n * v;
      squares += n * v * v;
    }
    const total = this.pixels || 1;
    const mean = sum / total;
    const variance = Math.max(0, squares / total - mean * mean);
    return { bins: out.map((n) => Number((n / total).toFixed(6))), mean: Number(mean.toFixed(3)), stddev: Number(Math.sqrt(variance).toFixed(3)) };
  }
}

/** Cuts a byte stream into whole frames, whatever the chunk boundaries. */
function frameSink(onFrame: (frame: Uint8Array) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let offset = 0;
    while (pending.length - offset >= FRAME_BYTES) {
      onFrame(pending.subarray(offset, offset + FRAME_BYTES));
      offset += FRAME_BYTES;
    }
    pending = pending.subarray(offset);
  };
}

const SCALE = `scale=${SAMPLE_WIDTH}:${SAMPLE_HEIGHT}:flags=neighbor,format=rgb24,setsar=1`;

function seekArgs(arg: string, stream: number, times: number[]): string[] {
  const inputs = times.flatMap((t) => ['-noautorotate', '-protocol_whitelist', PROTOCOL_WHITELIST, '-ss', t.toFixed(6), '-i', arg]);
  const branches = times.map((_, i) => `[${i}:${stream}]trim=end_frame=1,${SCALE}[s${i}]`);
  const joined = times.map((_, i) => `[s${i}]`).join('');
  // setpts keeps the rawvideo muxer from complaining about the segments' restarting timestamps.
  const graph = `${branches.join(';')};${joined}concat=n=${times.length}:v=1:a=0,setpts=N[out]`;
  return [...inputs, '-filter_complex', graph, '-map', '[out]'];
}

function linearArgs(arg: string, stream: number, times: number[]): string[] {
  // select's selected_n counts frames already taken: take the first frame at or after the next time.
  const pick = times.map((t, i) => `eq(selected_n\\,${i})*gte(t\\,${t.toFixed(6)})`).join('+');
  return ['-noautorotate', '-protocol_whitelist', PROTOCOL_WHITELIST, '-i', arg, '-map', `0:${stream}`, '-an', '-sn', '-dn', '-vf', `select='${pick}',${SCALE}`];
}

export interface HistogramOptions {
  samples: number;
  bins: number;
  signal?: AbortSignal;
  /** Called after each ffmpeg run with the fraction of samples done. */
  onProgress?: (fraction: number) => void;
}

/** Histograms of the main video of a probed file. */
export async function readHistogram(input: string, probe: ProbeReport, options: HistogramOptions): Promise<ProbeHistogram> {
  const primary = probe.streams[probe.primaryVideo ?? -1];
  if (!primary?.video) throw new VidfleetError('NOT_A_VIDEO', `${input} has no video stream to take a histogram of.`);
  const duration = primary.duration ?? probe.duration;
  const frameRate = primary.video.frameRate;
  const frames = primary.frames ?? (duration !== null && frameRate ? Math.round(duration * frameRate) : null);
  const plan = planSamples(options.samples, { duration, frames, frameRate });
  const arg = ffmpegInputArg(input);
  const acc = new HistogramAccumulator();
  const batches = plan.method === 'linear' ? [plan.times] : chunk(plan.times, INPUTS_PER_RUN);
  let done = 0;
  for (const times of batches) {
    const selection = plan.method === 'linear' ? linearArgs(arg, primary.index, times) : seekArgs(arg, primary.index, times);
    // -frames:v stops ffmpeg once the last sample is out instead of decoding on to the end.
    const args = ['-hide_banner', '-nostdin', '-v', 'error', ...selection, '-frames:v', String(times.length), '-fps_mode', 'passthrough', '-f', 'rawvideo', 'pipe:1'];
    const res = await runProcess(ffmpegBinary(), args, { signal: options.signal, timeoutMs: RUN_TIMEOUT_MS, onStdoutBytes: frameSink((f) => acc.addFrame(f)) });
    if (res.exitCode !== 0) {
      const head = await readInputHead(arg);
      throw classifyFailure({ tool: 'ffmpeg', input, inputArg: arg, stderr: res.stderr, exitCode: res.exitCode, action: 'could not sample frames for a histogram of', head });
    }
    done += times.length;
    options.onProgress?.(done / plan.times.length);
  }
  if (acc.frames === 0) {
    throw new VidfleetError('INPUT_CORRUPT', `No frame of ${input} could be decoded at ${plan.times.map((t) => t.toFixed(3)).join(', ')} s for a histogram: the video is damaged or its timestamps are broken.`);
  }
  const hdr: HdrFormat = primary.video.hdr;
  return {
    frames: acc.frames,
    times: plan.times,
    bins: options.bins,
    method: plan.method,
    pixelsPerFrame: SAMPLE_WIDTH * SAMPLE_HEIGHT,
    values: 'coded',
    hdr,
    r: acc.channel(0, options.bins),
    g: acc.channel(1, options.bins),
    b: acc.channel(2, options.bins),
    luma: acc.channel(3, options.bins),
  };
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
