// `vidfleet logs <job> [--follow] [--task T]`: the job's task logs (ffmpeg's stderr and the
// kind's notes) as the workers shipped them; --follow keeps printing until the job ends.
import type { VidfleetClient } from '../../client/api-client.js';
import { isTerminalJobStatus } from '../../protocol/index.js';
import { requirePositional, type Parsed } from '../args.js';
import { printJson, println } from '../output.js';

const FOLLOW_WAIT_S = 20;

export async function logsCommand(args: Parsed, client: VidfleetClient): Promise<number> {
  const jobId = requirePositional(args, 0, 'job id');
  const task = args.values.task as string | undefined;
  const follow = Boolean(args.values.follow);
  const json = Boolean(args.values.json);
  let after = 0;
  for (;;) {
    const { lines, next } = await client.jobLogs(jobId, { after, task, limit: 1000, ...(follow && { wait: FOLLOW_WAIT_S }) });
    for (const l of lines) {
      if (json) printJson(l);
      else println(`${l.ts} ${l.taskId}#${l.attempt} ${l.line}`);
    }
    after = next;
    if (lines.length > 0) continue; // a full page may have more behind it
    if (!follow) return 0;
    const job = await client.getJob(jobId);
    if (isTerminalJobStatus(job.status)) {
      // Lines that arrived with the last report.
      const rest = await client.jobLogs(jobId, { after, task, limit: 1000 });
      for (const l of rest.lines) {
        if (json) printJson(l);
        else println(`${l.ts} ${l.taskId}#${l.attempt} ${l.line}`);
      }
      return job.status === 'completed' ? 0 : 1;
    }
  }
}
