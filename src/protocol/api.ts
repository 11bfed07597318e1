// Request and response bodies of the /v1 HTTP API. One schema per body, shared by the
// coordinator (validation, serialisation) and its clients (the worker and the CLI).
import { Type, type Static } from '@sinclair/typebox';
import { CapabilityTokenSchema } from './capabilities.js';
import { ArtifactSchema, JobSchema, JobStatusSchema, WorkerCapabilitiesSchema, ErrorBodySchema, type Job, type ProgressDetail } from './model.js';
import type { ErrorBody } from './errors.js';

// ---- clients ----
export const SubmitJobBody = Type.Object(
  {
    kind: Type.String({ minLength: 1, description: 'Job kind, e.g. probe or thumbnail (GET /v1/kinds lists them).' }),
    input: Type.String({ minLength: 1, description: 'store://key, file:///path or http(s)://url' }),
    params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    priority: Type.Optional(Type.Integer({ minimum: -1000, maximum: 1000, description: 'Higher runs first; default 0.' })),
    maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: "Attempts before a retryable failure is final; default: the kind's (3)." })),
    requires: Type.Optional(
      Type.Array(CapabilityTokenSchema, {
        maxItems: 32,
        description: 'Capabilities a worker must have besides what the kind and its params need (e.g. tag:gpu, hwaccel:cuda).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type SubmitJobBody = Static<typeof SubmitJobBody>;

/** Jobs in one batch submit (POST /v1/job-batches): one request, one shared commit on SQLite. */
export const MAX_BATCH_JOBS = 500;

export const SubmitJobsBody = Type.Object(
  {
    jobs: Type.Array(
      Type.Object(
        {
          job: SubmitJobBody,
          idempotencyKey: Type.Optional(Type.String({ description: 'What the Idempotency-Key header is for a single submit.' })),
        },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_BATCH_JOBS },
    ),
  },
  { additionalProperties: false },
);
export type SubmitJobsBody = Static<typeof SubmitJobsBody>;

/**
 * One outcome per submitted job, in order: the job (status 201 created, 200 an idempotent
 * replay) or the error a single submit would have answered (with its HTTP status).
 */
export type SubmitJobOutcome = { status: number; job: Job } | { status: number; error: ErrorBody };
export interface SubmitJobsResponse {
  results: SubmitJobOutcome[];
}

export const ListJobsQuery = Type.Object({
  status: Type.Optional(JobStatusSchema),
  kind: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
});
export type ListJobsQuery = Static<typeof ListJobsQuery>;

export const ListJobsResponse = Type.Object({ jobs: Type.Array(JobSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) });
export type ListJobsResponse = Static<typeof ListJobsResponse>;

export const TaskLogsBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    lines: Type.Array(Type.Object({ ts: Type.Integer({ description: 'ms since the epoch' }), line: Type.String({ maxLength: 64_000 }) }), { maxItems: 1000 }),
  },
  { additionalProperties: false },
);
export type TaskLogsBody = Static<typeof TaskLogsBody>;

export const JobLogsQuery = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, description: 'Answer lines after this id (the `next` of the previous answer).' })),
  task: Type.Optional(Type.String({ description: "Only this task's lines." })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 1000 })),
  wait: Type.Optional(Type.Number({ minimum: 0, maximum: 60, description: 'Seconds to wait for new lines while the job runs (follow mode).' })),
});
export type JobLogsQuery = Static<typeof JobLogsQuery>;

export const TaskLogLineSchema = Type.Object({ id: Type.Integer(), taskId: Type.String(), attempt: Type.Integer(), ts: Type.String({ format: 'date-time' }), line: Type.String() });
export const JobLogsResponse = Type.Object({
  lines: Type.Array(TaskLogLineSchema),
  /** Pass as `after` to get the lines that follow. */
  next: Type.Integer(),
});
export type JobLogsResponse = Static<typeof JobLogsResponse>;

export const GetJobQuery = Type.Object({
  wait: Type.Optional(Type.Number({ minimum: 0, maximum: 60, description: 'Seconds to wait for the job to finish before answering.' })),
});

export const ListArtifactsResponse = Type.Object({ artifacts: Type.Array(ArtifactSchema) });
export type ListArtifactsResponse = Static<typeof ListArtifactsResponse>;

export const UploadResponse = Type.Object({ key: Type.String(), uri: Type.String(), size: Type.Integer(), sha256: Type.String() });
export type UploadResponse = Static<typeof UploadResponse>;

// ---- workers ----
export const RegisterWorkerBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    hostname: Type.String({ maxLength: 255 }),
    capabilities: WorkerCapabilitiesSchema,
  },
  { additionalProperties: false },
);
export type RegisterWorkerBody = Static<typeof RegisterWorkerBody>;

export const RegisterWorkerResponse = Type.Object({
  workerId: Type.String(),
  leaseMs: Type.Integer({ description: 'A claimed task is lost when no heartbeat renews it for this long.' }),
  heartbeatMs: Type.Integer({ description: 'How often the worker should heartbeat.' }),
});
export type RegisterWorkerResponse = Static<typeof RegisterWorkerResponse>;

export const TaskRef = Type.Object({ taskId: Type.String(), attempt: Type.Integer({ minimum: 1 }) });
export type TaskRef = Static<typeof TaskRef>;

export const HeartbeatBody = Type.Object({ tasks: Type.Array(TaskRef) }, { additionalProperties: false });
export type HeartbeatBody = Static<typeof HeartbeatBody>;

/** ok: keep going; lost: another attempt owns the task now, stop it; cancel: the user canceled, stop and report. */
export const LeaseState = Type.Union([Type.Literal('ok'), Type.Literal('lost'), Type.Literal('cancel')]);
export type LeaseState = Static<typeof LeaseState>;

export const HeartbeatResponse = Type.Object({
  tasks: Type.Array(Type.Object({ taskId: Type.String(), attempt: Type.Integer(), state: LeaseState })),
});
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

/**
 * Batched acknowledgements: attempts that started and attempts that finished, reported together
 * (on their own or riding on the next claim) instead of one request each. `started` moves an
 * assigned task to running; `completed` completes it with its result. Applied in one database
 * transaction, started before completed.
 */
export const TaskAcks = {
  started: Type.Optional(Type.Array(TaskRef, { maxItems: 1000 })),
  completed: Type.Optional(
    Type.Array(Type.Object({ taskId: Type.String(), attempt: Type.Integer({ minimum: 1 }), result: Type.Unknown() }), { maxItems: 1000 }),
  ),
};
export const AckBody = Type.Object(TaskAcks, { additionalProperties: false });
export type AckBody = Static<typeof AckBody>;

/** Per acknowledged attempt: ok, cancel (started, but the user canceled: stop), lost (not held by this attempt: nothing changed). */
export const AckState = Type.Object({ taskId: Type.String(), attempt: Type.Integer(), state: LeaseState });
export type AckState = Static<typeof AckState>;

export const AckResponse = Type.Object({ acks: Type.Array(AckState) });
export type AckResponse = Static<typeof AckResponse>;

export const ClaimBody = Type.Object(
  {
    ...TaskAcks,
    max: Type.Integer({ minimum: 1, maximum: 100 }),
    waitSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 60, description: 'Long poll: wait this long for work.' })),
  },
  { additionalProperties: false },
);
export type ClaimBody = Static<typeof ClaimBody>;

export const ClaimedTaskSchema = Type.Object({
  taskId: Type.String(),
  jobId: Type.String(),
  attempt: Type.Integer(),
  kind: Type.String(),
  input: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  resumeData: Type.Unknown(),
  leaseExpiresAt: Type.String(),
});
export type ClaimedTask = Static<typeof ClaimedTaskSchema>;

export const ClaimResponse = Type.Object({
  tasks: Type.Array(ClaimedTaskSchema),
  /** The outcome of the acknowledgements the claim carried (applied before it waited for work). */
  acks: Type.Optional(Type.Array(AckState)),
});
export type ClaimResponse = Static<typeof ClaimResponse>;

export const ProgressBody = Type.Object(
  {
    attempt: Type.Integer({ minimum: 1 }),
    progress: Type.Number({ minimum: 0, maximum: 1 }),
    fps: Type.Optional(Type.Number()),
    speed: Type.Optional(Type.Number()),
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    etaSeconds: Type.Optional(Type.Number({ minimum: 0 })),
    resumeData: Type.Optional(Type.Unknown({ description: "The attempt's checkpoint: what a later attempt may skip. Kept until the task completes." })),
  },
  { additionalProperties: false },
);
export type ProgressBody = Static<typeof ProgressBody>;

/** The detail a progress report carries (null when it has none): what clients see while it runs. */
export function progressDetailOf(body: ProgressBody): ProgressDetail | null {
  const detail: ProgressDetail = {};
  if (body.fps !== undefined) detail.fps = body.fps;
  if (body.speed !== undefined) detail.speed = body.speed;
  if (body.etaSeconds !== undefined) detail.etaSeconds = body.etaSeconds;
  if (body.message !== undefined) detail.message = body.message;
  return Object.keys(detail).length > 0 ? detail : null;
}

export const ProgressResponse = Type.Object({ state: LeaseState });
export type ProgressResponse = Static<typeof ProgressResponse>;

export const CompleteBody = Type.Object({ attempt: Type.Integer({ minimum: 1 }), result: Type.Unknown() }, { additionalProperties: false });
export type CompleteBody = Static<typeof CompleteBody>;

export const FailBody = Type.Object(
  { attempt: Type.Integer({ minimum: 1 }), error: ErrorBodySchema, resumeData: Type.Optional(Type.Unknown()) },
  { additionalProperties: false },
);
export type FailBody = Static<typeof FailBody>;

export const FailResponse = Type.Object({
  status: Type.Union([Type.Literal('pending'), Type.Literal('failed'), Type.Literal('canceled')]),
});
export type FailResponse = Static<typeof FailResponse>;

export const OkResponse = Type.Object({ ok: Type.Literal(true) });

/** Header a worker sets on an artifact upload: the SHA-256 it computed, checked by the coordinator. */
export const ARTIFACT_SHA256_HEADER = 'x-vidfleet-sha256';
