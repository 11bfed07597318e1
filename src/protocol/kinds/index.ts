// The registry of job kinds the wire protocol knows: name → parameter schema. The coordinator
// validates submissions against it; workers implement the same names in media/kinds.
import type { TObject } from '@sinclair/typebox';
import { NoopParamsSchema } from './noop.js';
import { ProbeParamsSchema } from './probe.js';
import { ScreenshotsParamsSchema, screenshotsParamsProblem } from './screenshots.js';
import { ThumbnailParamsSchema, thumbnailParamsProblem } from './thumbnail.js';

export interface KindSpec {
  readonly name: string;
  readonly description: string;
  readonly params: TObject;
  /** Attempts before a retryable failure becomes final. */
  readonly maxAttempts: number;
  /** Longest one attempt may run before it is stopped and retried (ms). */
  readonly maxRunMs: number;
  /** False for kinds that never open their input (noop): it is then not validated or resolved. */
  readonly readsInput: boolean;
  /** Checks that span several fields; answers a message naming the problem, or null. */
  readonly refine?: (params: Record<string, unknown>) => string | null;
}

export const KINDS = {
  probe: {
    name: 'probe',
    description: 'Container, duration, bit rate and every stream (codec, size, aspect, frame rate, rotation, colour/HDR, audio layout).',
    params: ProbeParamsSchema,
    maxAttempts: 3,
    maxRunMs: 10 * 60_000,
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
  },
  screenshots: {
    name: 'screenshots',
    description: 'Up to 100 images, evenly spaced or at given times, from keyframes (fast) or exact frames, optionally past black frames; each is stored as soon as it is made and a retry keeps those.',
    params: ScreenshotsParamsSchema,
    maxAttempts: 3,
    maxRunMs: 30 * 60_000,
    readsInput: true,
    refine: screenshotsParamsProblem,
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

export type KindName = keyof typeof KINDS;
export const KIND_NAMES = Object.keys(KINDS) as KindName[];

export function isKindName(value: string): value is KindName {
  return Object.hasOwn(KINDS, value);
}

export * from './noop.js';
export * from './probe.js';
export * from './screenshots.js';
export * from './thumbnail.js';
