// Puts tasks whose worker went silent back in the queue (or fails them when their attempts are
// used up). Runs on a timer; the store's guarded update makes it safe to run anywhere.
import type { FastifyBaseLogger } from 'fastify';
import type { CoordinatorDeps } from './deps.js';

export function startJanitor(deps: CoordinatorDeps, log: FastifyBaseLogger): { stop(): Promise<void>; runOnce(): Promise<void> } {
  let running: Promise<void> | null = null;
  const runOnce = async (): Promise<void> => {
    const { requeued, failed } = await deps.store.requeueExpiredLeases();
    if (requeued > 0) deps.tasksReady.notify();
    if (requeued > 0 || failed > 0) {
      deps.jobsChanged.notify();
      log.warn({ requeued, failed }, 'janitor: leases expired');
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = runOnce()
      .catch((err: unknown) => log.error({ err }, 'janitor pass failed'))
      .finally(() => {
        running = null;
      });
  }, deps.config.janitorIntervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
