// `vidfleet demo [FILE]`: the quickstart in one command. Brings up a coordinator and a worker
// with the embedded defaults, probes and thumbnails FILE (or a sample it generates with
// ffmpeg), saves the results, prints where, and shuts down.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { VidfleetClient } from '../../client/api-client.js';
import { generateSampleClip } from '../../media/sample.js';
import type { ProbeReport } from '../../protocol/index.js';
import { intOption, type Parsed } from '../args.js';
import { startLocalFleet } from '../local-fleet.js';
import { println, UsageError } from '../output.js';
import { downloadArtifacts, watchJob } from './jobs.js';

export async function demoCommand(args: Parsed): Promise<number> {
  const dataDir = resolve((args.values.data as string | undefined) ?? '.vidfleet');
  const outDir = resolve((args.values.output as string | undefined) ?? 'vidfleet-demo');
  let file = args.positionals[0];
  if (file !== undefined && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
  if (file === undefined) {
    file = join(dataDir, 'samples', 'sample-720p-10s.mp4');
    if (!existsSync(file)) {
      println(`generating a 10 s 720p sample with ffmpeg: ${file}`);
      await generateSampleClip(file, { seconds: 10, width: 1280, height: 720 });
    }
  }
  const fleet = await startLocalFleet({ port: intOption(args, 'port', 0), dataDir, workers: 1, workerLog: 'file' });
  try {
    println(`vidfleet is up at ${fleet.coordinator.url} (data in ${dataDir})`);
    const client = new VidfleetClient(fleet.coordinator.url);
    const upload = await client.uploadFile(resolve(file));
    println(`uploaded ${file} → ${upload.uri}`);
    const probe = await client.submitJob({ kind: 'probe', input: upload.uri });
    const thumb = await client.submitJob({ kind: 'thumbnail', input: upload.uri, params: { fraction: 0.5, width: 640 } });
    let exit = 0;
    for (const job of [probe, thumb]) {
      exit = Math.max(exit, await watchJob(client, job.id, false));
      for (const saved of await downloadArtifacts(client, job.id, join(outDir, job.kind))) println(`  saved ${saved.path}`);
    }
    const report = (await client.getJob(probe.id)).result as ProbeReport | null;
    const video = report?.primaryVideo == null ? undefined : report.streams[report.primaryVideo]?.video;
    if (report && video) {
      println(`probe: ${report.container.format}, ${report.duration?.toFixed(2) ?? '?'} s, ${video.displayWidth}x${video.displayHeight}, ${video.frameRate?.toFixed(2) ?? '?'} fps`);
    }
    println(exit === 0 ? `done: results in ${outDir}` : `some jobs failed: see ${join(dataDir, 'workers.log')}`);
    return exit;
  } finally {
    await fleet.stop();
  }
}
