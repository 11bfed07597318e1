// `noop`: no media work; sleeps `sleepMs` if asked (stopping early on cancel or lease loss),
// then uploads `artifactBytes` random bytes if asked.
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NoopParams, NoopResult } from '../../protocol/index.js';
import type { KindRunner, TaskContext } from './kind.js';

export const noopRunner: KindRunner = {
  name: 'noop',
  needsWorkDir: (params) => (params as NoopParams).artifactBytes !== undefined,
  async run(ctx: TaskContext): Promise<NoopResult> {
    const { sleepMs = 0, artifactBytes } = ctx.params as NoopParams;
    if (sleepMs > 0) {
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        const tick = setInterval(() => ctx.onProgress({ progress: Math.min(1, (Date.now() - started) / sleepMs) }), 500);
        const finish = (err?: unknown): void => {
          clearInterval(tick);
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', onAbort);
          if (err === undefined) resolve();
          else reject(err);
        };
        const onAbort = (): void => finish(ctx.signal.reason);
        const timer = setTimeout(() => finish(), sleepMs);
        if (ctx.signal.aborted) onAbort();
        else ctx.signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    let artifactSha256: string | null = null;
    if (artifactBytes !== undefined) {
      const bytes = randomBytes(artifactBytes);
      const path = join(ctx.workDir, 'noop.bin');
      await writeFile(path, bytes);
      artifactSha256 = createHash('sha256').update(bytes).digest('hex');
      await ctx.emitArtifact({ name: 'noop.bin', path, contentType: 'application/octet-stream' });
    }
    return { sleptMs: sleepMs, artifactSha256 };
  },
};
