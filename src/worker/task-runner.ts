// Runs one claimed attempt of one task: scratch dir, input, the kind's runner, artifact uploads
// as they are produced, and the outcome. The attempt's AbortController is the single way to
// stop it (cancel, lease lost, worker shutdown).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { VidfleetClient } from '../client/api-client.js';
import type { KindRunner, ProducedArtifact, ProgressUpdate, TaskContext } from '../media/kinds/kind.js';
import { VidfleetError, isKindName, kindReadsInput, toVidfleetError, type ClaimedTask, type LeaseState } from '../protocol/index.js';
import { resolveInput } from '../sources/resolve.js';
import { fetchArtifact } from './artifact-fetch.js';
import type { AckOutbox } from './ack-outbox.js';
import { LogShipper } from './log-shipper.js';
import { retryWhileUnreachable } from './retry.js';

/** Progress is sent at most this often; ffmpeg reports far more often than anyone looks. */
const PROGRESS_INTERVAL_MS = 500;

export type StopReason = 'lost' | 'cancel' | 'shutdown';

export interface RunningAttempt {
  task: ClaimedTask;
  controller: AbortController;
  /** Why the attempt was stopped from outside, if it was. */
  stopReason: StopReason | null;
  /** The work is over (result or error known; reporting it may still be under way): its slot is free. */
  finished: Promise<void>;
  /** Reported too (or given up on): the attempt no longer needs its lease. */
  done: Promise<void>;
}

export interface RunnerEnv {
  client: VidfleetClient;
  workerId: string;
  workDir: string;
  leaseMs: number;
  runners: ReadonlyMap<string, KindRunner>;
  /** Where started/completed reports go (batched). */
  outbox: AckOutbox;
  log(message: string, fields?: Record<string, unknown>): void;
  /** Passed to raw ffmpeg tasks (see WorkerConfig). */
  mounts?: TaskContext['mounts'];
  allowProtocols?: TaskContext['allowProtocols'];
  /** The torrent cache directory (WorkerConfig.torrentDir). */
  torrentDir?: string;
  torrentAllowDht?: boolean;
}

export function stopAttempt(attempt: RunningAttempt, reason: StopReason): void {
  if (attempt.stopReason) return;
  attempt.stopReason = reason;
  attempt.controller.abort(new VidfleetError('TASK_NOT_RUNNABLE', `Attempt stopped: ${reason}`));
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * Seconds left if the rest goes at the pace so far; null until there is a pace to go by (1 s
 * and 1 % in) or when done.
 */
export function estimateEta(elapsedMs: number, progress: number): number | null {
  if (elapsedMs < 1_000 || progress < 0.01 || progress >= 1) return null;
  return Math.round(((elapsedMs / 1000) * (1 - progress)) / progress * 10) / 10;
}

/** A fresh scratch directory under `parent`, which is created only when missing (one call less per task). */
async function makeWorkDir(parent: string, prefix: string): Promise<string> {
  try {
    return await mkdtemp(join(parent, prefix));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(parent, { recursive: true });
    return mkdtemp(join(parent, prefix));
  }
}

export function startAttempt(env: RunnerEnv, task: ClaimedTask): RunningAttempt {
  let markFinished = (): void => {};
  const finished = new Promise<void>((resolve) => (markFinished = resolve));
  const attempt: RunningAttempt = { task, controller: new AbortController(), stopReason: null, finished, done: Promise.resolve() };
  attempt.done = runAttempt(env, attempt, markFinished)
    .catch((err: unknown) => {
      env.log('attempt crashed', { taskId: task.taskId, error: String(err) });
    })
    .finally(markFinished);
  return attempt;
}

async function runAttempt(env: RunnerEnv, attempt: RunningAttempt, markFinished: () => void): Promise<void> {
  const { client, workerId } = env;
  const { task, controller } = attempt;
  const signal = controller.signal;
  const ref = { workerId, taskId: task.taskId, attempt: task.attempt };

  const onLeaseState = (state: LeaseState): void => {
    if (state !== 'ok') stopAttempt(attempt, state);
  };
  const onWriteError = (err: unknown): void => {
    if (err instanceof VidfleetError && (err.code === 'STALE_ATTEMPT' || err.code === 'TASK_NOT_FOUND' || err.code === 'TASK_NOT_RUNNABLE')) stopAttempt(attempt, 'lost');
  };

  // Progress: keep only the latest update and send it on a timer, one request at a time.
  // A checkpoint rides along with it (and with a failure report).
  let latest: ProgressUpdate | null = null;
  let checkpoint = null as { data: unknown; sent: boolean } | null; // (cast: set in callbacks, so no narrowing to null)
  let lastProgress = 0;
  let sending = false;
  const flushProgress = async (): Promise<void> => {
    const resume = checkpoint && !checkpoint.sent ? checkpoint : null;
    if ((!latest && !resume) || sending || signal.aborted) return;
    const update = latest ?? { progress: lastProgress };
    latest = null;
    sending = true;
    try {
      if (resume) resume.sent = true;
      const body = { attempt: task.attempt, ...update, ...(resume && { resumeData: resume.data }) };
      onLeaseState((await client.progress(workerId, task.taskId, body)).state);
    } catch (err) {
      if (resume && checkpoint === resume) resume.sent = false;
      onWriteError(err);
    } finally {
      sending = false;
    }
  };
  const progressTimer = setInterval(() => void flushProgress(), PROGRESS_INTERVAL_MS);

  const uploads: Promise<unknown>[] = [];
  const startedAt = performance.now();
  let workDir: string | null = null;
  const shipper = new LogShipper({ send: (lines) => client.appendTaskLogs(workerId, task.taskId, { attempt: task.attempt, lines }), log: env.log });
  try {
    // First report of the attempt: marks it running. The work does not wait for the answer (a
    // batched report may take a moment); a cancel or a lost lease in it stops the attempt.
    env.outbox.started({ taskId: task.taskId, attempt: task.attempt }).then(onLeaseState, () => stopAttempt(attempt, 'lost'));
    const runner = env.runners.get(task.kind);
    const scratch = runner?.needsWorkDir?.(task.params) ?? true;
    const [madeDir, resolved] = await Promise.allSettled([
      scratch ? makeWorkDir(env.workDir, `${task.taskId}-a${task.attempt}-`) : Promise.resolve(join(env.workDir, 'unused')),
      isKindName(task.kind) && !kindReadsInput(task.kind, task.params) ? Promise.resolve(task.input) : resolveInput(task.input, (key) => client.blobUrl(key)),
    ]);
    if (madeDir.status === 'fulfilled' && scratch) workDir = madeDir.value; // so `finally` removes it
    // Stopped before the work began (lost, canceled, handed back): the catch reports it.
    signal.throwIfAborted();
    if (madeDir.status === 'rejected') throw madeDir.reason;
    if (resolved.status === 'rejected') throw resolved.reason;
    if (!runner) throw new VidfleetError('INTERNAL', `This worker cannot run "${task.kind}" tasks.`);
    const ctx: TaskContext = {
      input: resolved.value,
      params: task.params,
      workDir: madeDir.value,
      signal,
      resumeData: task.resumeData ?? null,
      saveResumeData: (data) => {
        checkpoint = { data, sent: false };
      },
      onProgress: (update) => {
        lastProgress = Math.min(1, Math.max(0, update.progress));
        const eta = update.etaSeconds ?? estimateEta(performance.now() - startedAt, lastProgress);
        latest = { ...update, progress: lastProgress, ...(eta !== null && { etaSeconds: eta }) };
      },
      jobId: task.jobId,
      downloadArtifact: (name, path) => fetchArtifact(client, task.jobId, name, path, signal),
      emitArtifact: async (artifact: ProducedArtifact) => {
        const upload = (async () => {
          const sha256 = await sha256File(artifact.path);
          await retryWhileUnreachable(() => client.uploadArtifact(ref, { ...artifact, sha256 }, { signal }), { forMs: env.leaseMs, signal });
        })();
        uploads.push(upload);
        await upload;
      },
      log: (line) => {
        env.log(line, { taskId: task.taskId });
        shipper.push(line);
      },
      toolLog: (line) => shipper.push(line),
      mounts: env.mounts,
      allowProtocols: env.allowProtocols,
      inputUri: task.input,
      torrentDir: env.torrentDir ?? join(env.workDir, 'torrents'),
      torrentAllowDht: env.torrentAllowDht ?? false,
    };
    const result = await runner.run(ctx);
    await Promise.all(uploads);
    // Finished work is reported even if a stop arrived meanwhile: a canceled or handed-back
    // task that is already done is better completed; a lost one is refused (and ignored) below.
    clearInterval(progressTimer);
    markFinished();
    await shipper.close(env.leaseMs); // the log's tail lands before the job shows completed
    const state = await env.outbox.completed({ taskId: task.taskId, attempt: task.attempt }, result ?? null).catch((err: unknown) => {
      // The lease will expire and the janitor requeues the task: nothing is lost.
      env.log('could not report completion', { taskId: task.taskId, error: String(err) });
      return 'ok' as const;
    });
    if (state === 'lost') env.log('completion refused: the attempt is no longer current (its lease ran out)', { taskId: task.taskId, attempt: task.attempt });
  } catch (err) {
    await Promise.allSettled(uploads);
    markFinished();
    onWriteError(err);
    if (attempt.stopReason === 'lost') return; // someone else owns the task now: report nothing
    await shipper.close(env.leaseMs);
    const error =
      attempt.stopReason === 'shutdown'
        ? new VidfleetError('WORKER_SHUTDOWN', 'The worker shut down before the task finished and handed it back.')
        : attempt.stopReason === 'cancel'
          ? new VidfleetError('CANCELED', 'Canceled: the worker stopped the task and removed its partial files.')
          : toVidfleetError(err, 'FFMPEG_FAILED');
    try {
      const resumeData = checkpoint ? checkpoint.data : undefined;
      await retryWhileUnreachable(() => client.fail(workerId, task.taskId, task.attempt, error.toBody(), resumeData), { forMs: env.leaseMs });
    } catch (reportErr) {
      // The lease will expire and the janitor requeues the task: nothing is lost.
      env.log('could not report failure', { taskId: task.taskId, error: String(reportErr) });
    }
  } finally {
    shipper.stop();
    clearInterval(progressTimer);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
}
