// What a container index says about the keyframes a screenshot needs: enough to fetch each one
// with one bounded read and decode it alone (codec configuration as Annex-B, NAL length size).
import type { RangeReader } from '../ranged/range-reader.js';
import type { ColorInfo } from './picture.js';

export type { ColorInfo } from './picture.js';

export type IndexedContainer = 'mp4' | 'fmp4' | 'mkv';
export type IndexedCodec = 'h264' | 'hevc';

/** One keyframe (sync sample) chosen for one requested time. */
export interface KeyframeSample {
  /** The time asked for (seconds). */
  requestedTime: number;
  /** Presentation time of the keyframe (seconds, the timeline ffprobe prints as pts_time). */
  time: number;
  /** Byte offset of the sample's data in the file. */
  offset: number;
  /** Bytes of sample data. */
  size: number;
}

export interface KeyframeIndex {
  container: IndexedContainer;
  codec: IndexedCodec;
  /** Coded picture size from the sample entry / Video element. */
  width: number;
  height: number;
  /** Seconds, as the container declares it; null when it does not (live recordings, empty_moov). */
  duration: number | null;
  /** Ticks per second of the track's timestamps (mdhd timescale, or 1e9 / TimestampScale). */
  timescale: number;
  /** The track (MP4 track_ID, Matroska TrackNumber) the keyframes belong to. */
  trackId: number;
  /** Clockwise degrees a player turns the picture (MP4 tkhd matrix); 0 for Matroska. */
  rotation: 0 | 90 | 180 | 270;
  /**
   * Colour description the container gives (what ffmpeg uses when the bitstream has none);
   * null when it gives none.
   */
  color: ColorInfo | null;
  /** Sample aspect ratio the container sets, which ffmpeg puts above the bitstream's; null: none. */
  sampleAspect: [number, number] | null;
  /** VPS/SPS/PPS (and SEI) from avcC/hvcC/CodecPrivate, each prefixed with a 4-byte start code. */
  parameterSets: Buffer;
  /** Bytes of each NAL length prefix in samples; 0 when samples are Annex-B already. */
  nalLengthSize: number;
  /** One per requested time, in the order asked. */
  keyframes: KeyframeSample[];
  /**
   * Bytes the index parsers needed (the union of the ranges they asked for: box and element
   * headers, moov/moof/Cues, cluster heads). Floor of a screenshot job = indexBytes + keyframe sizes.
   */
  indexBytes: number;
}

export interface LocateOptions {
  signal?: AbortSignal;
  /** Refuse an index (moov, Cues, a moof) bigger than this. Default 128 MiB. */
  maxIndexBytes?: number;
}

export type Locate = (reader: RangeReader, times: readonly number[], options?: LocateOptions) => Promise<KeyframeIndex>;
