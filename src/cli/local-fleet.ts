// `vidfleet up` and `vidfleet demo`: a coordinator in this process plus N worker processes,
// all on this machine, with the embedded defaults (SQLite + local store under --data).
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCoordinator, type RunningCoordinator } from '../coordinator/server.js';
import type { CoordinatorOptions } from '../coordinator/config.js';

export interface LocalFleet {
  coordinator: RunningCoordinator;
  workers: ChildProcess[];
  stop(): Promise<void>;
}

const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export async function startLocalFleet(
  options: CoordinatorOptions & {
    workers: number;
    workerConcurrency?: number;
    workerLog?: 'inherit' | 'file';
    /** The --coordinator each worker is given (default: this coordinator's URL); several coordinators are comma-separated. */
    workerCoordinator?: (index: number, url: string) => string;
  },
): Promise<LocalFleet> {
  const coordinator = await startCoordinator(options);
  const logFile = options.workerLog === 'file' ? createWriteStream(join(coordinator.config.dataDir, 'workers.log'), { flags: 'a' }) : null;
  const workers: ChildProcess[] = [];
  for (let i = 0; i < options.workers; i++) {
    // Local workers hand running tasks back at once when the fleet stops (no drain).
    const args = [CLI_MAIN, 'worker', '--coordinator', options.workerCoordinator?.(i, coordinator.url) ?? coordinator.url, '--name', `local-${i + 1}`, '--drain-timeout', '0'];
    if (options.workerConcurrency) args.push('--concurrency', String(options.workerConcurrency));
    const child = spawn(process.execPath, args, { stdio: ['ignore', logFile ? 'pipe' : 'inherit', logFile ? 'pipe' : 'inherit'] });
    if (logFile) {
      child.stdout?.pipe(logFile, { end: false });
      child.stderr?.pipe(logFile, { end: false });
    }
    workers.push(child);
  }
  let stopped: Promise<void> | null = null;
  return {
    coordinator,
    workers,
    stop() {
      stopped ??= (async () => {
        await Promise.all(workers.map((w) => stopChild(w)));
        await coordinator.close();
        logFile?.end();
      })();
      return stopped;
    },
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
