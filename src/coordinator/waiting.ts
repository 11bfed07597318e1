// Why a pending job is not being picked up, when the reason is that no online worker has what
// its tasks require: said in the job (`waitingFor`) instead of leaving it to wait silently.
import { missingCapabilities, workerCapabilityTokens, type Job, type Worker } from '../protocol/index.js';
import type { Store } from '../store/store.js';

/** The message for the first pending task no online worker can run, or null. Pure. */
export function waitingReason(job: Job, workers: readonly Worker[]): string | null {
  const online = workers.filter((w) => w.status === 'online');
  for (const task of job.tasks ?? []) {
    if (task.status !== 'pending' || task.requires.length === 0) continue;
    const able = online.filter((w) => w.capabilities.kinds.includes(task.kind));
    let closest: string[] | null = null;
    for (const w of able) {
      const missing = missingCapabilities(task.requires, new Set(workerCapabilityTokens(w.capabilities)));
      if (missing.length === 0) {
        closest = null;
        break;
      }
      if (!closest || missing.length < closest.length) closest = missing;
    }
    if (able.length === 0) {
      return `No online worker runs ${task.kind} tasks; task ${task.id} waits until one registers.`;
    }
    if (closest) {
      return (
        `Task ${task.id} needs ${task.requires.join(', ')}; none of the ${able.length} online ${task.kind} worker(s) has all of them ` +
        `(the closest lacks ${closest.join(', ')}). It waits until such a worker registers.`
      );
    }
  }
  return null;
}

/** `job` with `waitingFor` set when that applies; reads the workers only for jobs it may concern. */
export async function withWaitingReason(store: Store, job: Job): Promise<Job> {
  if (!job.tasks?.some((t) => t.status === 'pending' && t.requires.length > 0)) return job;
  const reason = waitingReason(job, await store.listWorkers());
  return reason ? { ...job, waitingFor: reason } : job;
}
