// Containers the index parsers cannot read (MPEG-TS, AVI, …): ffmpeg reads the torrent file
// through a loopback range bridge that pulls bounded ranges from the torrent reader and stops at
// a byte budget, so even a container without an index never turns into a whole download.
// Keyframe seeks (-skip_frame nokey -noaccurate_seek), one process per batch, the way the
// `screenshots` kind grabs them.
import { BRIDGE_INPUT_ARGS, startRangeBridge, type RangeBridge } from '../../../sources/ranged/range-bridge.js';
import type { RangeReader } from '../../../sources/ranged/range-reader.js';
import { VidfleetError } from '../../../protocol/index.js';
import type { PieceMeter } from './meter.js';
import { grabStills, type GrabRequest, type ShotOutcome } from '../../grab.js';
import { ffprobeBinary, runProcess } from '../../process.js';
import { stillChain, stillEncoderArgs, type StillFormat } from '../../stills.js';

export const MiB = 1024 * 1024;

/** The bridge's budget when the job gives none: 5 % of the file + 8 MiB (never the whole file). */
export function defaultFallbackBudget(fileSize: number): number {
  return Math.min(Math.floor(fileSize * 0.9), Math.ceil(fileSize * 0.05) + 8 * MiB);
}

export interface FallbackShooter {
  bridge: RangeBridge;
  /** Seconds of video, from ffprobe through the bridge (null when it does not say). */
  duration(): Promise<number | null>;
  take(times: readonly number[], outs: readonly string[]): Promise<ShotOutcome[]>;
  close(): Promise<void>;
}

export interface FallbackOptions {
  /** Bytes of pieces the torrent may fetch (enforced by the meter: ffmpeg re-reading a range it already has costs nothing). */
  maxBytes: number;
  format: StillFormat;
  quality: number;
  width?: number;
  height?: number;
  zscale: boolean;
  signal: AbortSignal;
  log: (line: string) => void;
  toolLog: (line: string) => void;
}

export async function startFallback(reader: RangeReader & Pick<PieceMeter, 'maxBytes' | 'refused'>, opts: FallbackOptions): Promise<FallbackShooter> {
  // Pieces are the cost, so the meter holds the budget; the bridge's own cap (what ffmpeg reads,
  // repeats included) only stops a demuxer that loops.
  reader.maxBytes = Math.min(reader.maxBytes, opts.maxBytes);
  const bridge = await startRangeBridge(reader, { maxBytes: Math.max(4 * opts.maxBytes, 64 * MiB), windowBytes: 64 * 1024, chunkSize: 32 * 1024 });
  const budget = (): void => {
    if (reader.refused) throw reader.refused;
    bridge.check();
  };
  const req: GrabRequest = {
    input: bridge.url,
    stream: 'V:0',
    chain: (tag) => {
      const c = stillChain(null, { width: opts.width, height: opts.height, format: opts.format, tag, zscale: opts.zscale });
      return { ...c, inputArgs: [...BRIDGE_INPUT_ARGS, ...c.inputArgs] };
    },
    encoderArgs: stillEncoderArgs(opts.format, opts.quality),
    signal: opts.signal,
    log: opts.log,
    toolLog: opts.toolLog,
    action: 'could not take screenshots (through the range bridge) of',
    timeoutMs: 10 * 60_000,
  };
  const checked = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      budget(); // the budget, when it is what stopped ffmpeg
      throw err;
    }
  };
  return {
    bridge,
    duration: () =>
      checked(async () => {
        const res = await runProcess(
          ffprobeBinary(),
          ['-v', 'error', ...BRIDGE_INPUT_ARGS, '-show_entries', 'format=duration', '-of', 'json', bridge.url],
          { signal: opts.signal, timeoutMs: 120_000 },
        );
        budget();
        if (res.exitCode !== 0) throw new VidfleetError('FFMPEG_FAILED', `ffprobe could not read ${reader.label} through the range bridge: ${res.stderr.trim().split('\n').slice(-2).join(' | ')}`);
        const d = Number((JSON.parse(res.stdout || '{}') as { format?: { duration?: string } }).format?.duration);
        return Number.isFinite(d) && d > 0 ? d : null;
      }),
    take: (times, outs) =>
      checked(async () => {
        const grab = await grabStills(req, times.map((t, i) => ({ time: t, seek: 'keyframe' as const, out: outs[i]! })));
        budget();
        return grab.shots;
      }),
    close: () => bridge.close(),
  };
}
