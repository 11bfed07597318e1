// What a screenshots task will take, before it runs ffmpeg: the positions (evenly spaced or
// given), how far to move past a blank frame, how many images share one ffmpeg process, and
// which images an earlier attempt already stored (its checkpoint). Pure, so each rule is
// pinned by unit tests.
import { VidfleetError, type Screenshot, type ScreenshotsParams } from '../../protocol/index.js';
import { STILL_FORMATS, type StillFormat } from '../stills.js';
import { lastFrameTime, usableFrameRate } from './thumbnail.js';

export const DEFAULT_COUNT = 10;
/** Each move past a blank frame goes a quarter of the gap to the next image, at most this far. */
const MAX_BLANK_STEP_S = 5;
export const BLANK_TRIES = 3;

export interface PlannedShot {
  /** 1-based. */
  index: number;
  /** What the result reports: the position asked for (or computed). */
  time: number;
  /** Where ffmpeg seeks: `time`, kept a couple of frames before the end. */
  seekTime: number;
  /** How much later each try past a blank frame looks. */
  blankStep: number;
}

const ms = (t: number): number => Math.round(t * 1000) / 1000;

export function planShots(params: ScreenshotsParams, duration: number, frameRate: number | null, input: string): PlannedShot[] {
  let times: number[];
  if (params.times) {
    const past = params.times.filter((t) => t > duration);
    if (past.length) {
      const shown = past.slice(0, 5).map((t) => `${t.toFixed(3)} s`).join(', ') + (past.length > 5 ? ` and ${past.length - 5} more` : '');
      throw new VidfleetError(
        'TIME_OUT_OF_RANGE',
        `${shown} ${past.length === 1 ? 'is' : 'are'} past the end of ${input}: its video is ${duration.toFixed(3)} s long. Give times below ${duration.toFixed(3)} s, or a count for evenly spaced images.`,
        { details: { times: past, duration } },
      );
    }
    times = params.times;
  } else {
    const count = params.count ?? DEFAULT_COUNT;
    // The middle of each of `count` equal parts: never the very first or last frame.
    times = Array.from({ length: count }, (_, i) => ms(((i + 0.5) * duration) / count));
  }
  const frame = 1 / (usableFrameRate(frameRate) ?? 25);
  const sorted = [...new Set(times)].sort((a, b) => a - b);
  return times.map((time, i) => {
    const next = sorted.find((t) => t > time) ?? duration;
    return {
      index: i + 1,
      time,
      seekTime: lastFrameTime(time, duration, frameRate),
      blankStep: Math.max(frame, Math.min(MAX_BLANK_STEP_S, (next - time) / 4)),
    };
  });
}

export function artifactName(index: number, format: StillFormat): string {
  return `screenshot-${String(index).padStart(3, '0')}.${STILL_FORMATS[format].extension}`;
}

// Each image in a batch holds its own decoder; measured at 1080p, ~15 MB per image in keyframe
// mode and ~30 MB exact (whose decoders keep reference frames). These budgets keep a batch
// near 120-150 MB: 1080p → 8 keyframe / 5 exact per process, 4K → 3 / 1.
const BATCH_PIXELS = { keyframe: 32e6, exact: 12e6 } as const;
const MAX_BATCH = 8;

export function batchSize(mode: 'keyframe' | 'exact', width: number, height: number): number {
  const pixels = Math.max(1, width * height);
  return Math.min(MAX_BATCH, Math.max(1, Math.floor(BATCH_PIXELS[mode] / pixels)));
}

/** What a screenshots attempt saves after each stored image. */
export interface ScreenshotsCheckpoint {
  version: 1;
  mode: 'keyframe' | 'exact';
  format: StillFormat;
  done: Screenshot[];
}

function isScreenshot(v: unknown): v is Screenshot {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return typeof s.index === 'number' && typeof s.time === 'number' && typeof s.artifact === 'string' && typeof s.width === 'number' && typeof s.height === 'number';
}

/**
 * The images an earlier attempt stored, by index. Only entries that match this plan count (same
 * position, format and mode): if the file changed length between attempts, the positions did too.
 */
export function reusableShots(resumeData: unknown, plan: readonly PlannedShot[], mode: 'keyframe' | 'exact', format: StillFormat): Map<number, Screenshot> {
  const done = new Map<number, Screenshot>();
  const cp = resumeData as Partial<ScreenshotsCheckpoint> | null;
  if (!cp || cp.version !== 1 || cp.mode !== mode || cp.format !== format || !Array.isArray(cp.done)) return done;
  for (const entry of cp.done) {
    if (!isScreenshot(entry)) continue;
    const planned = plan[entry.index - 1];
    if (planned && Math.abs(planned.time - entry.time) < 1e-6 && entry.artifact === artifactName(entry.index, format)) done.set(entry.index, entry);
  }
  return done;
}
