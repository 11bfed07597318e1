// The media layer: ffmpeg/ffprobe runners and the job kinds a worker can run.
import type { KindName, TranscodeTaskKind } from '../protocol/index.js';
import type { KindRunner } from './kinds/kind.js';
import { contactSheetRunner } from './kinds/contact-sheet.js';
import { enhanceRunner } from './kinds/enhance.js';
import { ffmpegRunner } from './kinds/ffmpeg.js';
import { noopRunner } from './kinds/noop.js';
import { probeRunner } from './kinds/probe.js';
import { screenshotsRunner } from './kinds/screenshots.js';
import { spriteRunner } from './kinds/sprite.js';
import { thumbnailRunner } from './kinds/thumbnail.js';
import { torrentScreenshotsRunner } from './kinds/torrent-screenshots.js';
import { transcodeAudioRunner } from './kinds/transcode/audio.js';
import { transcodeMergeRunner } from './kinds/transcode/merge.js';
import { transcodePackageRunner } from './kinds/transcode/package.js';
import { transcodePlanRunner } from './kinds/transcode/plan.js';
import { transcodeVideoRunner } from './kinds/transcode/video.js';

/** Every kind this worker implements, by name; the worker registers with these keys. */
export const KIND_RUNNERS = {
  probe: probeRunner,
  thumbnail: thumbnailRunner,
  enhance: enhanceRunner,
  ffmpeg: ffmpegRunner,
  screenshots: screenshotsRunner,
  'contact-sheet': contactSheetRunner,
  sprite: spriteRunner,
  'torrent-screenshots': torrentScreenshotsRunner,
  noop: noopRunner,
  'transcode.plan': transcodePlanRunner,
  'transcode.video': transcodeVideoRunner,
  'transcode.audio': transcodeAudioRunner,
  'transcode.merge': transcodeMergeRunner,
  'transcode.package': transcodePackageRunner,
} as const satisfies Partial<Record<KindName | TranscodeTaskKind, KindRunner>>;

export type { KindRunner, ProducedArtifact, ProgressUpdate, TaskContext } from './kinds/kind.js';
export { probeRunner } from './kinds/probe.js';
export { thumbnailRunner } from './kinds/thumbnail.js';
export { screenshotsRunner } from './kinds/screenshots.js';
export { contactSheetRunner } from './kinds/contact-sheet.js';
export { spriteRunner } from './kinds/sprite.js';
export { torrentScreenshotsRunner } from './kinds/torrent-screenshots.js';
export { jpegQscale, scaleFilter, stillChain, STILL_FORMATS, type StillChain, type StillChainOptions, type StillFormat, type StillSource } from './stills.js';
export { ffmpegRunner, parseFfmpegTime } from './kinds/ffmpeg.js';
export { enhanceRunner } from './kinds/enhance.js';
export * from './enhance-plan.js';
export * from './capabilities.js';
export * from './content-types.js';
export * from './logical-paths.js';
export * from './errors.js';
export * from './health.js';
export * from './histogram.js';
export * from './keyframes.js';
export * from './packets.js';
export * from './probe.js';
export * from './process.js';
export * from './progress.js';
export * from './timing.js';
