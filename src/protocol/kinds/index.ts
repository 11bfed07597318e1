// The registry of job kinds the wire protocol knows: name → parameter schema. The coordinator
// validates submissions against it; workers implement the same names in media/kinds.
import type { TObject } from '@sinclair/typebox';
import { isTorrentInput, type InputRef } from '../inputs.js';
import { ContactSheetParamsSchema, contactSheetDrawsText, contactSheetParamsProblem } from './contact-sheet.js';
import { EnhanceParamsSchema, enhanceParamsProblem } from './enhance.js';
import { FfmpegParamsSchema, ffmpegParamsProblem, ffmpegReadsInput, ffmpegRequirements } from './ffmpeg.js';
import { NoopParamsSchema } from './noop.js';
import { ProbeParamsSchema } from './probe.js';
import { ScreenshotsParamsSchema, screenshotsParamsProblem } from './screenshots.js';
import { SpriteParamsSchema, spriteParamsProblem } from './sprite.js';
import { TRANSCODE_TASK_KINDS, TranscodeParamsSchema, transcodeParamsProblem } from './transcode.js';
import { ThumbnailParamsSchema, thumbnailParamsProblem } from './thumbnail.js';
import { TorrentScreenshotsParamsSchema, torrentScreenshotsParamsProblem } from './torrent-screenshots.js';

export interface KindSpec {
  readonly name: string;
  readonly description: string;
  readonly params: TObject;
  /** Attempts before a retryable failure becomes final. */
  readonly maxAttempts: number;
  /** Longest one attempt may run before it is stopped and retried (ms). */
  readonly maxRunMs: number;
  /**
   * False for kinds that never open their input (noop): it is then not validated or resolved.
   * A function decides per job (ffmpeg reads it only when an argument is $input).
   */
  readonly readsInput: boolean | ((params: Record<string, unknown>) => boolean);
  /** Checks that span several fields; answers a message naming the problem, or null. */
  readonly refine?: (params: Record<string, unknown>) => string | null;
  /** Capability tokens a worker needs for these params (e.g. encoder:libwebp for WebP output). */
  readonly requires?: (params: Record<string, unknown>) => string[];
  /**
   * Graph kinds: the task a new job starts with, instead of one task of the job's own kind. The
   * coordinator adds the rest when it completes (a transcode's plan → its chunk encodes).
   */
  readonly firstTask?: { kind: string; name: string; maxRunMs: number };
  /** Graph kinds: the task kinds a worker registers to run jobs of this kind. */
  readonly taskKinds?: readonly string[];
  /**
   * Torrent inputs (magnet, info-hash, store://….torrent): 'only' for kinds that read nothing
   * else; kinds without it refuse them at submit.
   */
  readonly torrentInput?: 'only';
}

/** WebP stills need libwebp (JPEG and PNG encoders are always built in). */
function stillRequirements(params: Record<string, unknown>): string[] {
  return params.format === 'webp' ? ['encoder:libwebp'] : [];
}

/** The encoder each enhance videoCodec runs. */
const ENHANCE_ENCODERS = { h264: 'libx264', hevc: 'libx265', vp9: 'libvpx-vp9' } as const;

export const KINDS = {
  probe: {
    name: 'probe',
    description:
      'Container, duration, bit rate and every stream (codec, size, aspect, frame rate, rotation, colour/HDR, audio layout); opt-in: colour histogram, keyframe intervals, frame timing/VFR, and a full-decode health check.',
    params: ProbeParamsSchema,
    maxAttempts: 3,
    // A health check decodes the whole file (a feature film takes minutes); the plain probe's
    // ffprobe has its own 2-minute limit, so this does not let a stuck probe linger.
    maxRunMs: 2 * 3_600_000,
    readsInput: true,
  },
  thumbnail: {
    name: 'thumbnail',
    description: 'One JPEG, WebP or PNG image at a time offset or a fraction of the duration (or the most representative frame around it), scaled, rotation applied, HDR tone-mapped, interlaced video deinterlaced.',
    params: ThumbnailParamsSchema,
    maxAttempts: 3,
    maxRunMs: 10 * 60_000,
    readsInput: true,
    refine: thumbnailParamsProblem,
    requires: stillRequirements,
  },
  enhance: {
    name: 'enhance',
    description: 'Levels (eq), sharpening, denoising, deinterlacing and scaling, re-encoded to an H.264/HEVC/VP9 MP4; compatible audio copied.',
    params: EnhanceParamsSchema,
    maxAttempts: 3,
    maxRunMs: 6 * 3_600_000,
    readsInput: true,
    refine: enhanceParamsProblem,
    requires: (params) => [`encoder:${ENHANCE_ENCODERS[(params.videoCodec as keyof typeof ENHANCE_ENCODERS | undefined) ?? 'h264'] ?? 'libx264'}`],
  },
  transcode: {
    name: 'transcode',
    description:
      'A rendition ladder (H.264/HEVC/AV1) encoded in keyframe-aligned chunks by many workers at once, merged per rendition with frame-exact seams and audio encoded once, published as MP4, HLS and/or DASH after verification.',
    params: TranscodeParamsSchema,
    maxAttempts: 3,
    maxRunMs: 24 * 3_600_000,
    readsInput: true,
    refine: transcodeParamsProblem,
    // A two-hour film's packet scan takes seconds; a plan that runs for 30 minutes is stuck.
    firstTask: { kind: 'transcode.plan', name: 'plan', maxRunMs: 30 * 60_000 },
    taskKinds: TRANSCODE_TASK_KINDS,
  },
  ffmpeg: {
    name: 'ffmpeg',
    description: "A raw ffmpeg or ffprobe command on logical paths ($input, $out/…, the worker's mounts); files written under $out become artifacts.",
    params: FfmpegParamsSchema,
    maxAttempts: 2,
    maxRunMs: 6 * 3_600_000,
    readsInput: ffmpegReadsInput,
    refine: ffmpegParamsProblem,
    requires: ffmpegRequirements,
  },
  screenshots: {
    name: 'screenshots',
    description: 'Up to 100 images, evenly spaced or at given times, from keyframes (fast) or exact frames, optionally past black frames; each is stored as soon as it is made and a retry keeps those.',
    params: ScreenshotsParamsSchema,
    maxAttempts: 3,
    maxRunMs: 30 * 60_000,
    readsInput: true,
    refine: screenshotsParamsProblem,
    requires: stillRequirements,
  },
  'contact-sheet': {
    name: 'contact-sheet',
    description:
      'One image with a grid of frames from across the video (middles of equal parts), each with its time, under a band describing the file (name, duration, size, resolution, frame rate, codecs).',
    params: ContactSheetParamsSchema,
    maxAttempts: 3,
    maxRunMs: 30 * 60_000,
    readsInput: true,
    refine: contactSheetParamsProblem,
    // drawtext is built only with libfreetype; without text the sheet needs nothing extra.
    requires: (params) => [...stillRequirements(params), ...(contactSheetDrawsText(params) ? ['filter:drawtext'] : [])],
  },
  sprite: {
    name: 'sprite',
    description:
      'Thumbnail sprite sheets (a grid per sheet) and a WebVTT thumbnails track (sprite.vtt, cues like sprite-001.jpg#xywh=0,0,160,90) for scrubbing previews in web players; each sheet is stored as soon as it is made and a retry keeps those.',
    params: SpriteParamsSchema,
    maxAttempts: 3,
    // exact mode at a short interval decodes the whole file: a feature film at 4K takes a while.
    maxRunMs: 3 * 3_600_000,
    readsInput: true,
    refine: spriteParamsProblem,
    requires: stillRequirements,
  },
  'torrent-screenshots': {
    name: 'torrent-screenshots',
    description:
      'Screenshots of a video inside a torrent (magnet, info-hash or uploaded .torrent), fetching only the metadata and the pieces that hold the container index and the keyframes; each image is stored as soon as it is made, a retry (on any worker) keeps those, and the job reports its cost in pieces and bytes against the floor.',
    params: TorrentScreenshotsParamsSchema,
    maxAttempts: 3,
    maxRunMs: 30 * 60_000,
    readsInput: true,
    refine: torrentScreenshotsParamsProblem,
    requires: stillRequirements,
    torrentInput: 'only',
  },
  noop: {
    name: 'noop',
    description: 'Does no media work (optionally sleeps sleepMs): for measuring dispatch overhead and checking a fleet end to end.',
    params: NoopParamsSchema,
    maxAttempts: 3,
    maxRunMs: 2 * 3_600_000,
    readsInput: false,
  },
} as const satisfies Record<string, KindSpec>;

export function kindSpec(name: KindName): KindSpec {
  return KINDS[name];
}

/** Whether a job of this kind with these params opens its input (so it must be a valid URI). */
export function kindReadsInput(name: KindName, params: Record<string, unknown>): boolean {
  const reads = kindSpec(name).readsInput;
  return typeof reads === 'function' ? reads(params) : reads;
}

export type KindName = keyof typeof KINDS;

/**
 * Whether a kind takes this input: torrent inputs go to torrent kinds only, and those take
 * nothing else. Answers the INVALID_INPUT message, or null.
 */
export function kindInputProblem(name: KindName, input: InputRef): string | null {
  const onlyTorrent = (kindSpec(name) as KindSpec).torrentInput === 'only';
  if (onlyTorrent && !isTorrentInput(input)) return `${name} takes a torrent: a magnet URI, a 40-hex info-hash, or an uploaded .torrent file (store://…/name.torrent).`;
  if (!onlyTorrent && input.scheme === 'torrent') return `A ${name} job cannot read a torrent; submit a torrent-screenshots job for a magnet URI or info-hash.`;
  return null;
}
export const KIND_NAMES = Object.keys(KINDS) as KindName[];

export function isKindName(value: string): value is KindName {
  return Object.hasOwn(KINDS, value);
}

export * from './contact-sheet.js';
export * from './enhance.js';
export * from './ffmpeg.js';
export * from './noop.js';
export * from './probe.js';
export * from './screenshots.js';
export * from './sprite.js';
export * from './thumbnail.js';
export * from './transcode.js';
export * from './torrent-screenshots.js';
