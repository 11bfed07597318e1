// Downloads a set of the job's artifacts into the task's scratch dir, a few at a time (chunks are
// many and small; one at a time would leave the link idle between them).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskContext } from '../kind.js';

const PARALLEL = 4;

/** Answers artifact name → local path. */
export async function fetchAll(ctx: TaskContext, names: readonly string[], onDone?: (done: number) => void): Promise<Map<string, string>> {
  const dir = join(ctx.workDir, 'in');
  await mkdir(dir, { recursive: true });
  const local = new Map<string, string>();
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < names.length) {
      const i = next++;
      const name = names[i] as string;
      const path = join(dir, `${i}-${name.replace(/[^A-Za-z0-9._-]/g, '_')}`);
      await ctx.downloadArtifact(name, path);
      local.set(name, path);
      onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, names.length) }, lane));
  return local;
}
