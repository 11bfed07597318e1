// `probe`: what a file is. Params and the normalised report a probe task returns.
import { Type, type Static } from '@sinclair/typebox';

export const ProbeParamsSchema = Type.Object({}, { additionalProperties: false });
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
