// Capability tokens: what a task requires and a worker offers, as "family:name" strings —
// encoder:libsvtav1, filter:zscale, hwaccel:cuda, mount:media, tag:gpu. A task is handed only to
// a worker that has every token it requires. Workers derive theirs from their ffmpeg (encoders,
// filters, hwaccels) and their config (mounts, tags).
import { Type } from '@sinclair/typebox';
import type { WorkerCapabilities } from './model.js';

export const CAPABILITY_FAMILIES = ['encoder', 'filter', 'hwaccel', 'mount', 'tag'] as const;
export type CapabilityFamily = (typeof CAPABILITY_FAMILIES)[number];

export const CAPABILITY_TOKEN_PATTERN = `^(${CAPABILITY_FAMILIES.join('|')}):[A-Za-z0-9_.+-]{1,64}$`;
const TOKEN_RE = new RegExp(CAPABILITY_TOKEN_PATTERN);

export const CapabilityTokenSchema = Type.String({
  pattern: CAPABILITY_TOKEN_PATTERN,
  description: 'family:name, e.g. encoder:libsvtav1, filter:zscale, hwaccel:cuda, mount:media, tag:gpu',
});

export function isCapabilityToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

export function capabilityToken(family: CapabilityFamily, name: string): string {
  return `${family}:${name}`;
}

/** Sorted, without duplicates: the form stored with a task. */
export function normalizeRequirements(tokens: readonly string[]): string[] {
  return [...new Set(tokens)].sort();
}

/** Every token a worker offers, from what it registered. */
export function workerCapabilityTokens(caps: WorkerCapabilities): string[] {
  return [
    ...caps.encoders.map((n) => capabilityToken('encoder', n)),
    ...(caps.filters ?? []).map((n) => capabilityToken('filter', n)),
    ...caps.hwaccels.map((n) => capabilityToken('hwaccel', n)),
    ...(caps.mounts ?? []).map((n) => capabilityToken('mount', n)),
    ...(caps.tags ?? []).map((n) => capabilityToken('tag', n)),
  ].filter(isCapabilityToken);
}

/** The tokens of `required` that `offered` lacks. */
export function missingCapabilities(required: readonly string[], offered: ReadonlySet<string>): string[] {
  return required.filter((t) => !offered.has(t));
}
