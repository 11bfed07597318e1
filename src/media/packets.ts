// One ffprobe pass over the packet headers of a video stream: timestamps and flags, no
// decoding. Keyframe statistics and frame timing are both computed from it, so asking for
// both costs one pass. On the corpus's 139 s file this takes about as long as the plain probe
// (≈0.35 s), where listing keyframes by decoding them (`-skip_frame nokey` frames) takes ≈1.6 s.
import { VidfleetError } from '../protocol/index.js';
import { classifyFailure, readInputHead } from './errors.js';
import { createLineSplitter } from './lines.js';
import { ffmpegInputArg, ffprobeBinary, PROTOCOL_WHITELIST, runProcess } from './process.js';

/** Packet headers of one stream, in file (decode) order. Timestamps are in ticks of `timeBase`. */
export interface PacketTimeline {
  stream: number;
  timeBase: { num: number; den: number };
  /** The container's start time (s): positions are reported relative to it, as ffmpeg's -ss counts. */
  startTime: number;
  /** NaN where the container gives none. */
  pts: number[];
  dts: number[];
  key: boolean[];
  /** Packets an edit list cuts (pre-roll): decoded for reference, never shown. */
  discard: boolean[];
}

export interface PacketOptions {
  signal?: AbortSignal;
  /** Absolute stream index; default the first video stream that is not cover art. */
  stream?: number;
  timeoutMs?: number;
}

export function tickSeconds(t: PacketTimeline): number {
  return t.timeBase.num / t.timeBase.den;
}

const field = (line: string, key: string): string | undefined => {
  const at = line.indexOf(`|${key}=`);
  if (at === -1) return undefined;
  const start = at + key.length + 2;
  const end = line.indexOf('|', start);
  return line.slice(start, end === -1 ? undefined : end);
};

const ticks = (v: string | undefined): number => (v === undefined || v === 'N/A' ? NaN : Number(v));

/** Parses ffprobe's compact output (`section|key=value|…` per line) line by line. */
export function createPacketParser(): { line(text: string): void; result(): PacketTimeline | null } {
  let stream: number | null = null;
  let timeBase: { num: number; den: number } | null = null;
  let startTime = 0;
  const pts: number[] = [];
  const dts: number[] = [];
  const key: boolean[] = [];
  const discard: boolean[] = [];
  return {
    line(text: string): void {
      if (text.startsWith('packet|')) {
        const flags = field(text, 'flags') ?? '';
        pts.push(ticks(field(text, 'pts')));
        dts.push(ticks(field(text, 'dts')));
        key.push(flags.includes('K'));
        discard.push(flags.includes('D'));
      } else if (text.startsWith('stream|')) {
        stream = Number(field(text, 'index'));
        const tb = /^(\d+)\/(\d+)$/.exec(field(text, 'time_base') ?? '');
        if (tb && Number(tb[1]) > 0 && Number(tb[2]) > 0) timeBase = { num: Number(tb[1]), den: Number(tb[2]) };
      } else if (text.startsWith('format|')) {
        const start = Number(field(text, 'start_time'));
        startTime = Number.isFinite(start) ? start : 0;
      }
    },
    result(): PacketTimeline | null {
      if (stream === null || !timeBase) return null;
      return { stream, timeBase, startTime, pts, dts, key, discard };
    },
  };
}

/** Reads every packet header of one video stream (the whole file is read, nothing decoded). */
export async function readPackets(input: string, options: PacketOptions = {}): Promise<PacketTimeline> {
  const arg = ffmpegInputArg(input);
  const selector = options.stream === undefined ? 'V:0' : String(options.stream);
  const args = [
    '-v', 'error', '-protocol_whitelist', PROTOCOL_WHITELIST,
    '-select_streams', selector,
    '-show_entries', 'format=start_time:stream=index,time_base:packet=pts,dts,flags',
    '-of', 'compact', arg,
  ];
  const parser = createPacketParser();
  const lines = createLineSplitter(parser.line);
  const res = await runProcess(ffprobeBinary(), args, { signal: options.signal, timeoutMs: options.timeoutMs ?? 30 * 60_000, onStdout: (t) => lines.push(t) });
  lines.end();
  if (res.exitCode !== 0) {
    const head = await readInputHead(arg);
    throw classifyFailure({ tool: 'ffprobe', input, inputArg: arg, stderr: res.stderr, exitCode: res.exitCode, action: 'could not read the packets of', head });
  }
  const timeline = parser.result();
  if (!timeline) {
    throw new VidfleetError('NOT_A_VIDEO', `${input} has no video stream (ffprobe selector "${selector}") whose packets can be listed. Check that this is the right file.`);
  }
  return timeline;
}
