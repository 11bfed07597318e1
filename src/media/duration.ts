// The length of a video whose container does not say (live MediaRecorder MKV without a
// Duration element, fragmented MP4 with an all-ones header): read every packet timestamp of
// the stream — demuxing only, no decoding — and take the end of the last one. It reads the
// whole file, so callers use it only when the probe found no duration.
import { VidfleetError } from '../protocol/index.js';
import { classifyFailure, readInputHead } from './errors.js';
import { ffmpegInputArg, ffprobeBinary, PROTOCOL_WHITELIST, runProcess } from './process.js';

/** `ffprobe -of compact=nk=1` lines: "packet|12.345|0.033[|side_data|…]" and "format|0.000". */
export function packetSpan(output: string): number | null {
  let start = 0;
  let end: number | null = null;
  for (const line of output.split(/\r?\n/)) {
    const [section, a, b] = line.split('|');
    const first = Number(a);
    if (section === 'format' && a !== undefined && Number.isFinite(first)) start = first;
    if (section !== 'packet' || a === undefined || a === 'N/A' || !Number.isFinite(first)) continue;
    const length = Number(b);
    const stop = first + (Number.isFinite(length) ? length : 0);
    if (end === null || stop > end) end = stop;
  }
  return end === null ? null : Math.max(0, Math.round((end - start) * 1e6) / 1e6);
}

/** Seconds from the file's start to the end of the stream's last packet; null when it has none. */
export async function measureVideoDuration(input: string, streamIndex: number, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<number | null> {
  const arg = ffmpegInputArg(input);
  const args = ['-v', 'error', '-protocol_whitelist', PROTOCOL_WHITELIST, '-select_streams', String(streamIndex), '-show_entries', 'packet=pts_time,duration_time:format=start_time', '-of', 'compact=nk=1', arg];
  const res = await runProcess(ffprobeBinary(), args, { signal: options.signal, timeoutMs: options.timeoutMs ?? 10 * 60_000 });
  if (res.exitCode !== 0) {
    const head = await readInputHead(arg);
    throw classifyFailure({ tool: 'ffprobe', input, inputArg: arg, stderr: res.stderr, exitCode: res.exitCode, action: 'could not measure the duration of', head });
  }
  return packetSpan(res.stdout);
}

export function unknownLengthError(input: string): VidfleetError {
  return new VidfleetError('INPUT_CORRUPT', `${input} declares no duration and its video stream has no packets with timestamps, so there is nothing to take screenshots of. Re-export the file.`);
}
