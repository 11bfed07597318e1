// `noop`: a task that does no media work. For measuring dispatch overhead (bench/dispatch),
// checking that a fleet is alive end to end, and exercising leases and cancellation.
import { Type, type Static } from '@sinclair/typebox';

export const NoopParamsSchema = Type.Object(
  {
    sleepMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000, description: 'Time to spend "working" (default 0); cancel and lease loss stop it early.' })),
  },
  { additionalProperties: false },
);
export type NoopParams = Static<typeof NoopParamsSchema>;

export interface NoopResult {
  sleptMs: number;
}
