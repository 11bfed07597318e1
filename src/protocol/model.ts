// Wire shapes of jobs, tasks, artifacts and workers, as JSON Schema (TypeBox) with their static
// types. The coordinator validates and serialises with these; the worker and CLI read them.
import { Type, type Static } from '@sinclair/typebox';

export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'canceling', 'canceled'] as const;
export const TASK_STATUSES = ['pending', 'assigned', 'running', 'completed', 'failed', 'canceling', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'canceled'];
export function isTerminalJobStatus(s: JobStatus): boolean {
  return TERMINAL_JOB_STATUSES.includes(s);
}

/** A string enum as JSON Schema (`enum`), typed as the union of its values. */
export const stringEnum = <T extends readonly string[]>(values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

export const JobStatusSchema = stringEnum(JOB_STATUSES);
export const TaskStatusSchema = stringEnum(TASK_STATUSES);

export const ErrorBodySchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  hint: Type.String(),
  retryable: Type.Boolean(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const ProgressDetailSchema = Type.Object({
  fps: Type.Optional(Type.Number({ description: 'Frames per second ffmpeg is processing.' })),
  speed: Type.Optional(Type.Number({ description: 'Multiple of real time.' })),
  etaSeconds: Type.Optional(Type.Number({ minimum: 0, description: 'Estimated seconds until the attempt finishes.' })),
  message: Type.Optional(Type.String()),
});
export type ProgressDetail = Static<typeof ProgressDetailSchema>;

export const TaskSchema = Type.Object({
  id: Type.String(),
  jobId: Type.String(),
  kind: Type.String(),
  name: Type.Union([Type.String(), Type.Null()], { description: 'The task\'s name within its job (graph jobs: "plan", "video/720p/003", "merge/720p"); null for single-task jobs.' }),
  waitingOn: Type.Integer({ minimum: 0, description: 'Dependencies not yet completed; a pending task is handed out only at 0.' }),
  status: TaskStatusSchema,
  attempt: Type.Integer({ description: 'Number of the current (or last) attempt; 0 before the first claim.' }),
  maxAttempts: Type.Integer(),
  workerId: Type.Union([Type.String(), Type.Null()]),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  leaseExpiresAt: NullableTimestamp,
  runAfter: NullableTimestamp,
  error: Type.Union([ErrorBodySchema, Type.Null()]),
  result: Type.Unknown(),
  createdAt: Timestamp,
  startedAt: NullableTimestamp,
  finishedAt: NullableTimestamp,
  requires: Type.Array(Type.String(), { description: 'Capability tokens a worker must have to run this task (empty: any worker of the kind).' }),
  progressDetail: Type.Union([ProgressDetailSchema, Type.Null()], { description: "The running attempt's latest fps, speed, ETA and message; null when not running." }),
});
export type Task = Static<typeof TaskSchema>;

export const JobSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  input: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  priority: Type.Integer(),
  status: JobStatusSchema,
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  error: Type.Union([ErrorBodySchema, Type.Null()]),
  result: Type.Unknown({ description: 'What the job produced besides files (e.g. the probe report); null until completed.' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  finishedAt: NullableTimestamp,
  tasks: Type.Optional(Type.Array(TaskSchema)),
  owner: Type.Optional(Type.String({ description: 'The key id of the client that submitted it (absent on a coordinator without keys).' })),
  waitingFor: Type.Optional(
    Type.String({ description: 'Set while a pending task cannot go to any online worker: says which capabilities no online worker has.' }),
  ),
});
export type Job = Static<typeof JobSchema>;

export const ArtifactSchema = Type.Object({
  jobId: Type.String(),
  taskId: Type.String(),
  name: Type.String({ description: 'Path of the artifact inside its job, e.g. thumbnail.jpg' }),
  key: Type.String({ description: 'Storage key, jobs/{job}/{name}' }),
  size: Type.Integer(),
  sha256: Type.String(),
  contentType: Type.String(),
  createdAt: Timestamp,
});
export type Artifact = Static<typeof ArtifactSchema>;

/**
 * One entry of the fleet's event log (GET /v1/events, /v1/jobs/{id}/events as server-sent
 * events). `cursor` is opaque and increases in feed order: give the last one seen (SSE
 * Last-Event-ID, or ?after=) to resume with exactly the events after it.
 */
export const FeedEventSchema = Type.Object({
  cursor: Type.String(),
  id: Type.Integer(),
  type: Type.String({ description: 'job.created, task.claimed, task.progress, task.completed, worker.online, …' }),
  jobId: Type.Union([Type.String(), Type.Null()]),
  taskId: Type.Union([Type.String(), Type.Null()]),
  workerId: Type.Union([Type.String(), Type.Null()]),
  data: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Timestamp,
});
export type FeedEvent = Static<typeof FeedEventSchema>;

export const WorkerCapabilitiesSchema = Type.Object({
  kinds: Type.Array(Type.String(), { minItems: 1 }),
  concurrency: Type.Integer({ minimum: 1, maximum: 256 }),
  ffmpegVersion: Type.String(),
  encoders: Type.Array(Type.String()),
  hwaccels: Type.Array(Type.String()),
  /** ffmpeg filters (zscale, tonemap, libplacebo, …). Absent from workers older than issue 4. */
  filters: Type.Optional(Type.Array(Type.String())),
  /** Logical path variables this worker maps to its own mount points (media → /srv/media). */
  mounts: Type.Optional(Type.Array(Type.String())),
  /** Free-form labels an operator gives a worker (gpu, fast-disk); jobs may require them. */
  tags: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.+-]{1,64}$' }))),
});
export type WorkerCapabilities = Static<typeof WorkerCapabilitiesSchema>;

export const WorkerSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  hostname: Type.String(),
  status: stringEnum(['online', 'offline'] as const),
  capabilities: WorkerCapabilitiesSchema,
  registeredAt: Timestamp,
  lastHeartbeatAt: Timestamp,
  owner: Type.Optional(Type.String({ description: 'The key id the worker registered with (absent on a coordinator without keys).' })),
});
export type Worker = Static<typeof WorkerSchema>;
