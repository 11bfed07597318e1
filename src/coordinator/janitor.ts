// Housekeeping on timers: expired leases back to the queue (or failed, or forced canceled),
// silent workers shown offline, and finished jobs pruned after the retention period. Every
// store operation it calls is a guarded update, so every coordinator may run it at once.
import type { FastifyBaseLogger } from 'fastify';
import type { CoordinatorDeps } from './deps.js';
import { metricsOf } from './metrics.js';

export interface Janitor {
  runOnce(): Promise<void>;
  pruneOnce(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs `task` every `ms`, never two at once; failures are logged, never thrown. */
function every(ms: number, task: () => Promise<void>, log: FastifyBaseLogger, what: string): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch((err: unknown) => log.error({ err }, `${what} failed`))
      .finally(() => {
        running = null;
      });
  }, ms);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

export function startJanitor(deps: CoordinatorDeps, log: FastifyBaseLogger): Janitor {
  const { store, blobs, config } = deps;
  const metrics = metricsOf(deps);
  const runOnce = async (): Promise<void> => {
    const expired = await store.requeueExpiredLeases();
    metrics.leasesExpired(expired);
    const { requeued, failed, canceled } = expired;
    if (requeued > 0) deps.tasksReady.notify();
    if (requeued > 0 || failed > 0 || canceled > 0) {
      deps.jobsChanged.notify();
      log.warn({ requeued, failed, canceled }, 'janitor: leases expired');
    }
    await store.markSilentWorkersOffline(config.workerOfflineMs);
  };
  const pruneOnce = async (): Promise<void> => {
    // Small batches keep each delete transaction short under load.
    for (let round = 0; round < 20; round++) {
      const { jobs, artifactKeys } = await store.pruneFinished(config.retentionMs, 200);
      for (const key of artifactKeys) await blobs.delete(key);
      if (jobs > 0) log.info({ jobs, artifacts: artifactKeys.length }, 'janitor: pruned finished jobs');
      if (jobs < 200) break;
    }
    // Request nonces older than the signing window can no longer be replayed: forget them.
    for (let round = 0; round < 20; round++) if ((await store.pruneNonces(5_000)) < 5_000) break;
    // Intermediate files of completed graph jobs (encoded chunks, the audio track).
    for (let round = 0; round < 20; round++) {
      const keys = await store.takeBlobTrash(500);
      for (const key of keys) await blobs.delete(key);
      if (keys.length < 500) break;
    }
  };
  const leases = every(config.janitorIntervalMs, runOnce, log, 'janitor pass');
  const pruning = every(config.pruneIntervalMs, pruneOnce, log, 'retention pass');
  return {
    runOnce,
    pruneOnce,
    async stop() {
      await Promise.all([leases.stop(), pruning.stop()]);
    },
  };
}
