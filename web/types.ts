// The wire shapes the dashboard reads. They mirror src/protocol/model.ts (the browser build
// cannot import the server's TypeBox schemas without a bundler): keep the two in step.

export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'canceling', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type TaskStatus = JobStatus | 'assigned';

export const isTerminal = (s: string): boolean => s === 'completed' || s === 'failed' || s === 'canceled';

export interface ErrorBody {
  code: string;
  message: string;
  hint?: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export interface ProgressDetail {
  fps?: number;
  speed?: number;
  etaSeconds?: number;
  message?: string;
}

export interface Task {
  id: string;
  jobId: string;
  kind: string;
  name: string | null;
  waitingOn: number;
  status: TaskStatus;
  attempt: number;
  maxAttempts: number;
  workerId: string | null;
  progress: number;
  error: ErrorBody | null;
  startedAt: string | null;
  finishedAt: string | null;
  progressDetail: ProgressDetail | null;
}

export interface Job {
  id: string;
  kind: string;
  input: string;
  params: Record<string, unknown>;
  priority: number;
  status: JobStatus;
  progress: number;
  error: ErrorBody | null;
  result: unknown;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  tasks?: Task[];
  owner?: string;
  waitingFor?: string;
}

export interface Artifact {
  jobId: string;
  taskId: string;
  name: string;
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  createdAt: string;
}

export interface Worker {
  id: string;
  name: string;
  hostname: string;
  status: 'online' | 'offline';
  capabilities: {
    kinds: string[];
    concurrency: number;
    ffmpegVersion: string;
    encoders: string[];
    hwaccels: string[];
    filters?: string[];
    mounts?: string[];
    tags?: string[];
  };
  registeredAt: string;
  lastHeartbeatAt: string;
}

export interface FeedEvent {
  cursor: string;
  id: number;
  type: string;
  jobId: string | null;
  taskId: string | null;
  workerId: string | null;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface ParamSchema {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
}

export interface KindInfo {
  name: string;
  description: string;
  params: { properties?: Record<string, ParamSchema> };
  maxAttempts: number;
}

export interface LogLine {
  id: number;
  taskId: string;
  attempt: number;
  ts: string;
  line: string;
}
