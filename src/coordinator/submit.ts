// Turning a submission into a job: kind, params and input validated; an Idempotency-Key makes a
// retried submit return the job the first one created instead of a duplicate.
import { createHash } from 'node:crypto';
import { KINDS, VidfleetError, kindInputProblem, kindReadsInput, normalizeRequirements, parseInput, type Job, type KindSpec, type SubmitJobBody } from '../protocol/index.js';
import type { CoordinatorDeps } from './deps.js';
import { validateKind, validateParams } from './params.js';

/** Whose idempotency keys unsigned submits (a coordinator without keys) share. */
export const ANONYMOUS_OWNER = 'anonymous';

/** A client over its jobs-per-minute is told when the oldest job of the window leaves it. */
async function checkRate(deps: CoordinatorDeps, owner: string): Promise<void> {
  const limit = deps.config.maxJobsPerMinute;
  if (limit <= 0) return;
  const recent = await deps.store.countJobsSince(owner, Date.now() - 60_000);
  if (recent >= limit) {
    throw new VidfleetError('RATE_LIMITED', `Key ${owner} submitted ${recent} jobs in the last minute; the limit is ${limit} per minute.`, {
      details: { limit, retryAfterSeconds: 5 },
    });
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** JSON with object keys sorted, so equal requests hash equal whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Who submits: the signing key's id (the job's owner), and whether the per-client rate limit applies. */
export interface Submitter {
  owner: string | null;
  limited: boolean;
}

export const ANONYMOUS_SUBMITTER: Submitter = { owner: null, limited: false };

export async function submitJob(
  deps: CoordinatorDeps,
  body: SubmitJobBody,
  idempotencyKey: string | undefined,
  submitter: Submitter = ANONYMOUS_SUBMITTER,
): Promise<{ job: Job; created: boolean }> {
  const kind = validateKind(body.kind);
  const params = validateParams(kind, body.params);
  const input = kindReadsInput(kind, params) ? parseInput(body.input) : null;
  const inputProblem = input ? kindInputProblem(kind, input) : null;
  if (inputProblem) throw new VidfleetError('INVALID_INPUT', inputProblem);
  if (input?.scheme === 'store' && !(await deps.blobs.stat(input.key))) {
    throw new VidfleetError('INPUT_NOT_FOUND', `Nothing is stored at ${body.input}; upload the file first (POST /v1/uploads, or vidfleet submit with a local path).`);
  }
  if (idempotencyKey !== undefined && !KEY_PATTERN.test(idempotencyKey)) {
    throw new VidfleetError('VALIDATION_FAILED', 'The Idempotency-Key header must be 1-200 printable ASCII characters without spaces.');
  }
  if (submitter.limited && submitter.owner !== null) await checkRate(deps, submitter.owner);
  const priority = body.priority ?? 0;
  const maxAttempts = body.maxAttempts ?? KINDS[kind].maxAttempts;
  const spec: KindSpec = KINDS[kind];
  const requires = normalizeRequirements([...(spec.requires?.(params) ?? []), ...(body.requires ?? [])]);
  const request = { kind, input: body.input, params, priority, maxAttempts, requires };
  // A graph kind starts with its first task (a transcode's plan); the coordinator adds the rest.
  const first = spec.firstTask
    ? { kind: spec.firstTask.kind, name: spec.firstTask.name, maxRunMs: spec.firstTask.maxRunMs }
    : { kind, maxRunMs: spec.maxRunMs };
  const result = await deps.store.createJob(
    { kind, input: body.input, params, priority, owner: submitter.owner, tasks: [{ ...first, input: body.input, params, maxAttempts, requires }] },
    idempotencyKey === undefined
      ? {}
      : {
          idempotency: {
            owner: submitter.owner ?? ANONYMOUS_OWNER,
            key: idempotencyKey,
            requestHash: createHash('sha256').update(canonicalJson(request)).digest('hex'),
            ttlMs: deps.config.idempotencyTtlMs,
          },
        },
  );
  return result;
}
