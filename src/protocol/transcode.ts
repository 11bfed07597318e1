// The shapes a chunked transcode passes between its tasks. A plan task (worker) analyses the
// source once; the coordinator turns its plan into the graph (chunk × rendition encodes, audio,
// merge, package); each later task receives the slice of the plan it needs in its params.
// Times are seconds on the source's timeline as ffmpeg's -ss counts them (container start = 0).

export type VideoCodec = 'h264' | 'hevc' | 'av1';

/** One rung of the ladder as the user asked for it. */
export interface RenditionSpec {
  /** Unique within the job; names the outputs ("720p" → 720p.mp4, hls/720p/…). */
  name: string;
  /** Either or both; a missing one keeps the display aspect. Never upscaled past the source. */
  width?: number;
  height?: number;
  codec: VideoCodec;
  /** Constant quality, or a target bitrate (then maxrate/bufsize cap it for HLS/DASH). */
  crf?: number;
  bitrateKbps?: number;
  maxrateKbps?: number;
  bufsizeKbps?: number;
  preset?: string;
  profile?: string;
  level?: string;
}

export interface AudioSpec {
  codec: 'aac' | 'opus';
  bitrateKbps: number;
  channels: number;
}

/** A rendition with its output size fixed from the source (even, display aspect kept). */
export interface ResolvedRendition extends RenditionSpec {
  width: number;
  height: number;
}

/** What the plan task learned about the source. */
export interface SourceFacts {
  /** Seconds, of the video stream (first frame pts → last frame end). */
  duration: number;
  /** Displayed frames of the chosen video stream (edit-list pre-roll excluded). */
  frames: number;
  /** Coded size and the size as displayed (sample aspect and rotation applied). */
  codedWidth: number;
  codedHeight: number;
  displayWidth: number;
  displayHeight: number;
  /** Clockwise degrees a player turns the picture. */
  rotation: number;
  /** Average frame rate (frames ÷ duration); VFR sources are kept VFR. */
  fps: number;
  vfr: boolean;
  interlaced: boolean;
  /** Stream time base of the video, used as the chunk files' track timescale when it is fine enough. */
  timeBase: { num: number; den: number };
  /** pts (s) of the first displayed video frame. */
  videoStart: number;
  /**
   * Longest gap between two frames (s). In VFR sources (screen recordings pause for seconds) a
   * segment cannot end before the first frame after its boundary, so it may overrun by this.
   */
  maxFrameInterval?: number;
  /**
   * Colour of the source video. An HDR source (PQ/HLG, or untagged 10-bit BT.2020) is
   * tone-mapped to SDR BT.709 for 8-bit rungs: shown as SDR untouched it is washed out.
   */
  color?: { hdr: 'hdr10' | 'hlg' | 'sdr' | 'unknown'; colorSpace: string | null; colorPrimaries: string | null; bitDepth: number | null };
  /** Absolute index of the video stream analysed (the file's first usable one when absent). */
  videoStream?: number;
  /** The audio stream chosen (default-flagged, else first), or null when there is none. */
  audio: { index: number; start: number; channels: number; sampleRate: number; codec: string; count: number; isDefault?: boolean } | null;
}

/** One GOP-aligned slice of the source: frames [firstFrame, firstFrame + frames) in display order. */
export interface ChunkPlan {
  index: number;
  /** pts (s) of its first frame, a keyframe. */
  start: number;
  /** pts (s) where the next chunk starts (or the video's end for the last). */
  end: number;
  firstFrame: number;
  frames: number;
  /** pts (s) of its last frame in display order: fixes the seam gap the merge must reproduce. */
  last?: number;
  /** Where its accurate seek starts: halfway between the previous frame and its first one. */
  seekFrom?: number;
}

export interface TranscodePlan {
  source: SourceFacts;
  chunks: ChunkPlan[];
  renditions: ResolvedRendition[];
}

/** What checkChunk found in one encoded chunk; `problems` is empty when it matches its plan. */
export interface ChunkCheck {
  ok: boolean;
  problems: string[];
  frames: number;
  expectedFrames: number;
  firstIsKey: boolean;
  /** Display times (s) inside the chunk file: of its first and last frame. */
  firstPts: number;
  lastPts: number;
  keyframes: number;
  /** Segment starts (s, relative to the chunk) that did not get a keyframe. */
  missingSegmentKeys: number[];
}

export interface ChunkReport {
  index: number;
  rendition: string;
  path: string;
  bytes: number;
  encodeSeconds: number;
  check: ChunkCheck;
}

export interface AudioReport {
  path: string;
  /** Absolute index of the source audio stream encoded, and why that one. */
  stream: number;
  note: string;
  codec: AudioSpec['codec'];
  sampleRate: number;
  channels: number;
  /** Seconds of audio written: the video's duration. */
  duration: number;
  /** Source audio start minus first video frame (s): > 0 was padded with silence, < 0 trimmed. */
  offset: number;
  bytes: number;
  encodeSeconds: number;
}

export interface MergeCheck {
  ok: boolean;
  problems: string[];
  frames: number;
  expectedFrames: number;
  /** Frames found in each chunk's time window of the merged file. */
  chunkFrames: number[];
  /** The chunk at the first seam or window that is wrong, null when none is. */
  badChunk: number | null;
  /** Largest |seam gap − expected gap| (s). */
  worstSeamError: number;
  videoDuration: number;
  expectedDuration: number;
  /** Audio start minus video start (s) and audio duration (s); null without audio. */
  audioOffset: number | null;
  audioDuration: number | null;
}

export interface MergeReport {
  path: string;
  bytes: number;
  mergeSeconds: number;
  check: MergeCheck;
}

// ---- the params of each task of the graph (built by the coordinator's planner) ----

/** Where each task of a transcode leaves its output, as artifact names of the job. */
export const TRANSCODE_ARTIFACTS = {
  chunk: (rendition: string, index: number) => `work/video/${rendition}/${String(index).padStart(5, '0')}.mp4`,
  audio: 'work/audio.mp4',
  merged: (rendition: string, publishMp4: boolean) => (publishMp4 ? `${rendition}.mp4` : `work/merged/${rendition}.mp4`),
  report: (rendition: string) => `reports/${rendition}.json`,
};

/** One chunk, encoded into one rung or (decoded once) into several. */
export interface VideoTaskParams {
  source: SourceFacts;
  chunk: ChunkPlan;
  outputs: { rendition: ResolvedRendition; artifact: string }[];
  /** Keyframes forced on multiples of this (HLS/DASH); null without packaging. */
  segmentSeconds: number | null;
}

export interface AudioTaskParams {
  source: SourceFacts;
  audio: { codec: 'aac' | 'opus'; bitrateKbps: number; channels: number };
  artifact: string;
}

export interface MergeTaskParams {
  source: SourceFacts;
  rendition: ResolvedRendition;
  chunks: { plan: ChunkPlan; artifact: string }[];
  audioArtifact: string | null;
  /** Keyframes the merge check insists on (HLS/DASH); null without packaging. */
  segmentSeconds: number | null;
  artifact: string;
  report: string;
}

export interface PackageTaskParams {
  source: SourceFacts;
  renditions: { rendition: ResolvedRendition; merged: string; report: string; published: boolean }[];
  segmentSeconds: number;
  hls: boolean;
  dash: boolean;
  chunks: number;
}

/**
 * The HDR curve a rung must undo, or null: an HDR source going to an 8-bit rung (every H.264
 * rung; HEVC/AV1 unless their profile is a 10-bit one). Untagged 10-bit BT.2020 is taken as PQ,
 * as for stills. The planner requires filter:zscale of the chunk workers then, so every chunk of
 * a rung is tone-mapped the same way.
 */
export function toneMapCurve(facts: Pick<SourceFacts, 'color'>, r: Pick<RenditionSpec, 'codec' | 'profile'>): 'hdr10' | 'hlg' | null {
  const c = facts.color;
  if (!c) return null;
  const tenBit = r.codec !== 'h264' && /10/.test(r.profile ?? '');
  if (tenBit) return null;
  if (c.hdr === 'hdr10' || c.hdr === 'hlg') return c.hdr;
  if (c.hdr === 'unknown' && /^bt2020/.test(c.colorSpace ?? '') && (c.bitDepth ?? 10) > 8) return 'hdr10';
  return null;
}
