// The media layer: ffmpeg/ffprobe runners and the job kinds a worker can run.
import type { KindName } from '../protocol/index.js';
import type { KindRunner } from './kinds/kind.js';
import { noopRunner } from './kinds/noop.js';
import { probeRunner } from './kinds/probe.js';
import { screenshotsRunner } from './kinds/screenshots.js';
import { thumbnailRunner } from './kinds/thumbnail.js';

/** Every kind this worker implements, by name; the worker registers with these keys. */
export const KIND_RUNNERS = {
  probe: probeRunner,
  thumbnail: thumbnailRunner,
  screenshots: screenshotsRunner,
  noop: noopRunner,
} as const satisfies Partial<Record<KindName, KindRunner>>;

export type { KindRunner, ProducedArtifact, ProgressUpdate, TaskContext } from './kinds/kind.js';
export { probeRunner } from './kinds/probe.js';
export { thumbnailRunner } from './kinds/thumbnail.js';
export { screenshotsRunner } from './kinds/screenshots.js';
export { jpegQscale, scaleFilter, stillChain, STILL_FORMATS, type StillChain, type StillChainOptions, type StillFormat, type StillSource } from './stills.js';
export * from './capabilities.js';
export * from './errors.js';
export * from './probe.js';
export * from './process.js';
export * from './progress.js';
