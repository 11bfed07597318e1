// `probe`: what a file is. Params and the normalised report a probe task returns. The extras
// (histogram, keyframes, timing, health) each cost extra ffmpeg/ffprobe work, so each is opt-in
// and the default probe stays one ffprobe run.
import { Type, type Static } from '@sinclair/typebox';

export const HISTOGRAM_DEFAULTS = { samples: 10, bins: 32 } as const;

export const ProbeParamsSchema = Type.Object(
  {
    histogram: Type.Optional(
      Type.Union(
        [
          Type.Boolean(),
          Type.Object(
            {
              samples: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: `Frames sampled, evenly spread over the duration (default ${HISTOGRAM_DEFAULTS.samples}).` })),
              bins: Type.Optional(Type.Integer({ minimum: 2, maximum: 256, description: `Bins per channel over 0-255 (default ${HISTOGRAM_DEFAULTS.bins}).` })),
            },
            { additionalProperties: false },
          ),
        ],
        { description: 'Colour histograms (R, G, B, luma) of sampled frames: true, or {samples, bins}.' },
      ),
    ),
    keyframes: Type.Optional(Type.Boolean({ description: 'Keyframe times and interval statistics of the main video (reads every packet header).' })),
    timing: Type.Optional(Type.Boolean({ description: 'Frame durations, frame rates and variable-frame-rate detection (shares the keyframes pass).' })),
    health: Type.Optional(Type.Boolean({ description: 'Decode the whole file and report decode errors; a damaged file is a result (healthy: false), not a failure.' })),
  },
  { additionalProperties: false },
);
export type ProbeParams = Static<typeof ProbeParamsSchema>;

export type HdrFormat = 'sdr' | 'hdr10' | 'hlg' | 'unknown';

export interface ProbeVideo {
  width: number;
  height: number;
  /** Sample (pixel) aspect ratio as "num:den"; "1:1" when square or unknown. */
  sampleAspectRatio: string;
  /** Display aspect ratio after SAR, before rotation, as "num:den". */
  displayAspectRatio: string;
  /** Size a player shows: SAR applied, then rotation (so a rotated phone clip is portrait). */
  displayWidth: number;
  displayHeight: number;
  /** Clockwise degrees a player turns the picture: 0, 90, 180 or 270. */
  rotation: number;
  /** Average frame rate (frames per second), null when the container does not say. */
  frameRate: number | null;
  /** Container's base frame rate as "num/den" (r_frame_rate). */
  baseFrameRate: string | null;
  pixelFormat: string | null;
  bitDepth: number | null;
  colorSpace: string | null;
  colorTransfer: string | null;
  colorPrimaries: string | null;
  colorRange: string | null;
  hdr: HdrFormat;
  fieldOrder: string | null;
  interlaced: boolean;
}

export interface ProbeAudio {
  channels: number | null;
  channelLayout: string | null;
  sampleRate: number | null;
}

export interface ProbeStream {
  index: number;
  type: 'video' | 'audio' | 'subtitle' | 'data' | 'attachment' | 'unknown';
  codec: string | null;
  codecLongName: string | null;
  codecTag: string | null;
  profile: string | null;
  language: string | null;
  title: string | null;
  isDefault: boolean;
  /** Still images attached to the file (cover art) are streams too; they are not the video. */
  isAttachedPicture: boolean;
  bitRate: number | null;
  duration: number | null;
  frames: number | null;
  video?: ProbeVideo;
  audio?: ProbeAudio;
}

export interface ProbeReport {
  container: {
    format: string;
    formatLongName: string | null;
    majorBrand: string | null;
    size: number | null;
    startTime: number | null;
    tags: Record<string, string>;
  };
  /** Seconds; null when the container declares none (e.g. a live MediaRecorder MKV). */
  duration: number | null;
  /** Bits per second for the whole file. */
  bitRate: number | null;
  streams: ProbeStream[];
  /** Index into `streams` of the main video stream, null for audio-only files. */
  primaryVideo: number | null;
  primaryAudio: number | null;
  warnings: string[];
}

/** Summary of a list of numbers. */
export interface NumberStats {
  min: number;
  max: number;
  mean: number;
  median: number;
}

export interface ProbeKeyframes {
  /** Index of the stream analysed (the main video). */
  stream: number;
  /** Packets flagged as keyframes (sync samples), including pre-roll ones an edit list hides. */
  count: number;
  /** Video packets read. */
  packets: number;
  /**
   * Keyframe times in seconds from the start of the file (the container's start time is
   * subtracted, as ffmpeg's -ss does), in file order; negative for hidden pre-roll. Only the
   * first 10,000 are listed.
   */
  times: number[];
  timesTruncated: boolean;
  /** Between consecutive keyframes; null with fewer than two keyframes. */
  intervalSeconds: NumberStats | null;
  /** Packets (≈ frames) from one keyframe up to the next, in decode order. */
  intervalFrames: NumberStats | null;
  /** Every interval has the same number of frames; null with fewer than two intervals. */
  fixedInterval: boolean | null;
  /**
   * Pictures that decode after a keyframe but display before it. In an open GOP they reference
   * the previous GOP, so cutting at that keyframe breaks them.
   */
  leadingPictures: number;
  /**
   * true: no keyframe has leading pictures, so every keyframe starts a clean GOP (safe split
   * point). false: some do — an open GOP, or (MPEG-2) closed GOPs with backward-only B-frames,
   * which timestamps cannot tell apart. null: the container gives no presentation times.
   */
  closedGop: boolean | null;
}

export interface FrameDurationCount {
  seconds: number;
  count: number;
}

export interface ProbeTiming {
  stream: number;
  /** The stream's time base as "num/den": one tick is the timestamp resolution. */
  timeBase: string;
  /** Frames shown (packets an edit list discards, and hidden frames, are not counted). */
  frames: number;
  /** Packets stamped within one tick of the previous frame (e.g. VP9 hidden alt-ref frames); not frames. */
  hiddenPackets: number;
  /** 1 / median frame duration. */
  nominalFps: number | null;
  /** (frames - 1) / time from first to last frame. */
  meanFps: number | null;
  /** From the longest frame duration (a gap counts). */
  minFps: number | null;
  /** From the shortest frame duration. */
  maxFps: number | null;
  /** Most common frame durations, most frequent first (at most 20). */
  durations: FrameDurationCount[];
  distinctDurations: number;
  /** A duration counts as nominal within max(1 tick, 5 %) of the median. */
  toleranceSeconds: number;
  /** Durations that are a whole multiple (2x, 3x…) of the nominal one: dropped frames, not VFR. */
  gaps: number;
  /** Durations neither nominal nor a whole multiple of it. */
  irregular: number;
  /** More than 5 % of the durations (and at least 2) are irregular. */
  vfr: boolean;
  /** Presentation times are missing in the container (MXF, some MPEG-2), so decode times were used. */
  fromDecodeTimes: boolean;
}

export interface HistogramChannel {
  /** Fraction of sampled pixels in each bin (sums to 1); bin i covers values [i*256/bins, (i+1)*256/bins). */
  bins: number[];
  /** On the 0-255 scale. */
  mean: number;
  stddev: number;
}

export interface ProbeHistogram {
  /** Frames actually analysed (a sample past the last frame yields none). */
  frames: number;
  /** Seconds from the start that were asked for, evenly spread. */
  times: number[];
  bins: number;
  /** How frames were reached: one seek per sample, or one decoding pass for short clips. */
  method: 'seek' | 'linear';
  /** Each frame is scaled (nearest neighbour, so no new colours appear) to this many pixels. */
  pixelsPerFrame: number;
  /**
   * Always "coded": HDR (PQ/HLG) frames are converted to R'G'B' with the stream's matrix but not
   * tone-mapped, so they look flatter than on an HDR display. `hdr` says which signal it was.
   */
  values: 'coded';
  hdr: HdrFormat;
  r: HistogramChannel;
  g: HistogramChannel;
  b: HistogramChannel;
  /** Y' from R'G'B' with BT.709 weights (0.2126, 0.7152, 0.0722). */
  luma: HistogramChannel;
}

export interface HealthMessage {
  level: 'error' | 'warning';
  /** The ffmpeg component that spoke (h264, "mov,mp4,…", null), null for ffmpeg itself, "vidfleet" for its own checks. */
  source: string | null;
  /** The first occurrence; repeats that differ only in numbers are counted with it. */
  message: string;
  count: number;
  /** Roughly where decoding was (seconds) when it was first and last printed; null before any position was known. */
  firstAt: number | null;
  lastAt: number | null;
}

export interface HealthStream {
  index: number;
  type: string;
  packetsRead: number;
  framesDecoded: number;
  /** Packets (frames) the container lists for the stream, when it says. */
  expectedPackets: number | null;
}

export interface ProbeHealth {
  /** Decoding finished with no error-level message, no corrupt frame or packet, and no stream cut short. */
  healthy: boolean;
  /** Distinct messages, most frequent first (at most 50 each); counts include every repeat. */
  errors: HealthMessage[];
  warnings: HealthMessage[];
  errorCount: number;
  warningCount: number;
  /** Video and audio streams decoded. */
  streams: HealthStream[];
  /** Media seconds decoded (ffmpeg's last output position). */
  decodedSeconds: number | null;
  /** ffmpeg's exit code: non-zero when it gave up on the file before the end. */
  exitCode: number | null;
}

/** The probe kind's result: the report plus the extras that were asked for. */
export interface ProbeResult extends ProbeReport {
  keyframes?: ProbeKeyframes;
  timing?: ProbeTiming;
  histogram?: ProbeHistogram;
  health?: ProbeHealth;
}
