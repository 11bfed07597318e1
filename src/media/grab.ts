// Runs ffmpeg for one or several still images of one input. Several shots go into one process
// as several seeked inputs (`-ss a -i f -ss b -i f …`, one output each): ffmpeg's start-up
// (~80 ms here, linking all of Debian's codec libraries) then counts once. On a 1080p25,
// 5-minute H.264 file with 10 s GOPs, 10 screenshots at 640 px (medians of 5, 2 busy cores):
//   keyframe, one process per image:           117 ms/image
//   keyframe, one process, 10 inputs:           33 ms/image   (5 inputs per process: 44)
//   keyframe, one process, select over the file: 67 ms/image  (reads every byte: bad for URLs)
//   exact, one process per image:              469 ms/image
//   exact, one process, 10 inputs:             409 ms/image   (decoding dominates)
// Each extra input holds its own decoder (~15 MB at 1080p in keyframe mode, ~30 MB exact), so
// callers size batches by pixels.
import { rm, stat } from 'node:fs/promises';
import { VidfleetError, type ProbeVideo } from '../protocol/index.js';
import { hasEncoder } from './capabilities.js';
import { classifyFailure, readInputHead } from './errors.js';
import { errorLines, shownFrame, sniffInputVideo } from './ffmpeg-log.js';
import { ffmpegBinary, ffmpegInputArg, PROTOCOL_WHITELIST, runProcess } from './process.js';
import { createProgressParser, type ProgressSnapshot } from './progress.js';
import { STILL_FORMATS, type StillChain, type StillFormat } from './stills.js';
import type { TaskContext } from './kinds/kind.js';

export type SeekMode =
  /** The first frame at or after `time` (decoded forward from the keyframe before it). */
  | 'exact'
  /** The keyframe at or before `time`, decoded alone: fast, lands up to a GOP early. */
  | 'keyframe'
  /** The first keyframe at or after `time`. */
  | 'next-keyframe'
  /**
   * Like exact, for demuxers that seek past the target (MXF without an index, sparse VFR): seek
   * PREROLL_S earlier and let a trim in the chain drop the frames before `time`.
   */
  | 'exact-preroll';

const PREROLL_S = 5;

export interface Shot {
  /** Seconds from the start of the file. */
  time: number;
  seek: SeekMode;
  /** Where the image goes (the extension does not matter; the encoder args decide). */
  out: string;
}

export interface ShotOutcome {
  wrote: boolean;
  /** Seconds from the start of the file of the frame taken, when showinfo said. */
  actualTime: number | null;
  /** Luma statistics of the image, when showinfo said. */
  luma: { mean: number; stdev: number } | null;
}

export interface GrabRequest {
  input: string;
  /** Stream inside each input: "V:0" (first video that is not cover art) or an index. */
  stream: string;
  /** Builds the chain for one shot; `tag` names its showinfo. */
  chain: (tag: string) => StillChain;
  encoderArgs: string[];
  signal: AbortSignal;
  log: (line: string) => void;
  /** Each line ffmpeg prints (the task's live log). */
  toolLog?: (line: string) => void;
  /** Phrase for error messages: "could not take a thumbnail of". */
  action: string;
  timeoutMs: number;
  onProgress?: (s: ProgressSnapshot) => void;
}

/**
 * The parts of a grab that come from the task: its input, its stop signal and both logs (the
 * worker's, and the task log ffmpeg's lines are shipped to). One place, so no kind forgets one.
 */
export function taskSide(ctx: TaskContext): Pick<GrabRequest, 'input' | 'signal' | 'log' | 'toolLog'> {
  return { input: ctx.input, signal: ctx.signal, log: ctx.log, toolLog: ctx.toolLog };
}

export interface GrabOptions {
  /**
   * Stops ffmpeg before it decodes anything when the input dump shows a video this returns
   * true for (the caller then runs again with a chain that fits). The dump is complete once
   * ffmpeg prints "Stream mapping:", before the first packet is decoded.
   */
  stopWhen?: (seen: ProbeVideo) => boolean;
}

export interface GrabResult {
  /** stopWhen said stop: no image was made. */
  stopped: boolean;
  shots: ShotOutcome[];
  /** Error-level lines ffmpeg printed (it may print some and still succeed). */
  problems: string;
  /** The video of input #0 as ffmpeg's input dump described it. */
  sniffed: ProbeVideo | null;
}

/** Where the input seek goes: the shot's time, or earlier for exact-preroll. */
function inputSeek(shot: Shot): number {
  return shot.seek === 'exact-preroll' ? Math.max(0, shot.time - PREROLL_S) : shot.time;
}

function chainFilter(shot: Shot, chain: StillChain | undefined): string {
  const filter = chain?.filter ?? 'null';
  return shot.seek === 'exact-preroll' ? `trim=start=${(shot.time - inputSeek(shot)).toFixed(6)},${filter}` : filter;
}

function seekArgs(shot: Shot): string[] {
  const at = ['-ss', inputSeek(shot).toFixed(6)];
  // -skip_frame nokey: the decoder drops everything but keyframes, so nothing else is decoded.
  if (shot.seek === 'keyframe') return ['-skip_frame', 'nokey', '-noaccurate_seek', ...at];
  if (shot.seek === 'next-keyframe') return ['-skip_frame', 'nokey', ...at];
  return at;
}

/** Watches stderr for the end of the input dump; aborts `stop` when `stopWhen` says so. */
function dumpWatcher(stopWhen: (seen: ProbeVideo) => boolean, stop: AbortController): { onText: (text: string) => void; seen: () => ProbeVideo | null } {
  let head: string | null = '';
  let seen: ProbeVideo | null = null;
  const onText = (text: string): void => {
    if (head === null) return;
    head += text;
    if (!/Stream mapping:|Output #0/.test(head)) {
      if (head.length > 256 * 1024) head = null;
      return;
    }
    seen = sniffInputVideo(head);
    head = null;
    if (seen && stopWhen(seen)) stop.abort();
  };
  return { onText, seen: () => seen };
}

export async function grabStills(req: GrabRequest, shots: readonly Shot[], options: GrabOptions = {}): Promise<GrabResult> {
  const arg = ffmpegInputArg(req.input);
  const chains = shots.map((_, i) => req.chain(`still${i}`));
  const inputs = shots.flatMap((shot, i) => [...(chains[i]?.inputArgs ?? []), ...seekArgs(shot), '-i', arg]);
  const outputs = shots.flatMap((shot, i) => [
    '-map', `${i}:${req.stream}`, '-frames:v', '1', '-an', '-sn', '-dn',
    // passthrough: keep a keyframe stamped before the seek point instead of dropping it.
    '-fps_mode', 'passthrough',
    '-vf', chainFilter(shot, chains[i]),
    ...req.encoderArgs,
    '-f', 'image2', '-update', '1', '-y', shot.out,
  ]);
  const progress = req.onProgress ? ['-progress', 'pipe:1'] : [];
  const args = ['-hide_banner', '-nostdin', '-v', 'level+info', '-nostats', ...progress, '-protocol_whitelist', PROTOCOL_WHITELIST, ...inputs, ...outputs];
  req.log(`ffmpeg ${args.join(' ')}`);
  await Promise.all(shots.map((s) => rm(s.out, { force: true })));
  const parser = req.onProgress ? createProgressParser(req.onProgress) : null;
  const stop = new AbortController();
  const watcher = options.stopWhen ? dumpWatcher(options.stopWhen, stop) : null;
  let res;
  try {
    res = await runProcess(ffmpegBinary(), args, {
      signal: options.stopWhen ? AbortSignal.any([req.signal, stop.signal]) : req.signal,
      timeoutMs: req.timeoutMs,
      // The input dump comes first; a file with many chapters or streams must not push it out.
      stderrHeadBytes: 256 * 1024,
      ...(parser && { onStdout: (t: string) => parser.push(t) }),
      ...(watcher && { onStderr: watcher.onText }),
      ...(req.toolLog && { onStderrLine: req.toolLog }),
    });
  } catch (err) {
    if (!stop.signal.aborted || req.signal.aborted) throw err;
    return { stopped: true, shots: shots.map(() => ({ wrote: false, actualTime: null, luma: null })), problems: '', sniffed: watcher?.seen() ?? null };
  } finally {
    parser?.end();
  }
  const problems = errorLines(res.stderr);
  if (res.exitCode !== 0) {
    const head = await readInputHead(arg);
    throw classifyFailure({ tool: 'ffmpeg', input: req.input, inputArg: arg, stderr: problems, exitCode: res.exitCode, action: req.action, head });
  }
  const outcomes = await Promise.all(
    shots.map(async (shot, i): Promise<ShotOutcome> => {
      const wrote = await stat(shot.out).then((s) => s.size > 0, () => false);
      const shown = shownFrame(res.stderr, `still${i}`);
      const actualTime = shown?.ptsTime == null ? null : Math.max(0, Math.round((inputSeek(shot) + shown.ptsTime) * 1e6) / 1e6);
      const luma = shown?.mean != null && shown.stdev != null ? { mean: shown.mean, stdev: shown.stdev } : null;
      return { wrote, actualTime: wrote ? actualTime : null, luma: wrote ? luma : null };
    }),
  );
  return { stopped: false, shots: outcomes, problems, sniffed: sniffInputVideo(res.stderr) };
}

/** Fails early, with a way out, when this worker's ffmpeg cannot encode the format. */
export async function requireStillEncoder(format: StillFormat): Promise<void> {
  const { encoder } = STILL_FORMATS[format];
  if (await hasEncoder(encoder)) return;
  const name = format === 'webp' ? 'WebP' : format.toUpperCase();
  throw new VidfleetError('FFMPEG_MISSING', `This worker's ffmpeg has no ${name} encoder (${encoder}); run the job on a worker whose ffmpeg is built with ${encoder}, or ask for format jpeg.`);
}
