// `noop`: a task that does no media work. For measuring dispatch overhead (bench/dispatch),
// checking that a fleet is alive end to end, and exercising leases and cancellation.
import { Type, type Static } from '@sinclair/typebox';

export const NoopParamsSchema = Type.Object(
  {
    sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000, description: 'Time to spend "working" (default 0); cancel and lease loss stop it early.' })),
    artifactBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 * 1024 * 1024, description: 'Then upload an artifact noop.bin of this many random bytes (default none).' })),
  },
  { additionalProperties: false },
);
export type NoopParams = Static<typeof NoopParamsSchema>;

export interface NoopResult {
  sleptMs: number;
  /** SHA-256 of noop.bin when one was made, so a test can check what was stored. */
  artifactSha256: string | null;
}
