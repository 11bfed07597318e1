// `probe`: one ffprobe run; the normalised report is both the job result and a probe.json
// artifact (so it can be downloaded with the other outputs of a pipeline).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probeFile } from '../probe.js';
import type { KindRunner, TaskContext } from './kind.js';

export const probeRunner: KindRunner = {
  name: 'probe',
  async run(ctx: TaskContext) {
    ctx.onProgress({ progress: 0, message: 'probing' });
    const report = await probeFile(ctx.input, { signal: ctx.signal });
    for (const warning of report.warnings) ctx.log(`probe: ${warning}`);
    const path = join(ctx.workDir, 'probe.json');
    await writeFile(path, JSON.stringify(report, null, 2) + '\n');
    await ctx.emitArtifact({ name: 'probe.json', path, contentType: 'application/json' });
    ctx.onProgress({ progress: 1, message: 'probed' });
    return report;
  },
};
