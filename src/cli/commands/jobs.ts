// Client commands: submit, status, jobs, get, watch.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { VidfleetClient } from '../../client/api-client.js';
import { VidfleetError, isSafeStoreKey, isTerminalJobStatus, type Artifact, type Job } from '../../protocol/index.js';
import { intOption, parseParams, requirePositional, type Parsed } from '../args.js';
import { formatBytes, printJson, println, UsageError } from '../output.js';
import { MultiBar } from '../multi-bar.js';
import { TaskGroups, describeGroup, describeSpeed } from '../task-groups.js';

const URI_PATTERN = /^(store|file|https?):\/\//i;

/** A local path is uploaded first; a URI is passed as it is; "-" is no input. */
async function resolveSubmitInput(client: VidfleetClient, input: string, json: boolean): Promise<string> {
  if (URI_PATTERN.test(input)) return input;
  if (input === '-') return 'none'; // kinds that read no input (noop, ffmpeg without $input)
  const path = resolve(input);
  if (!existsSync(path)) throw new UsageError(`"${input}" is neither a URI (store://, file://, http(s)://) nor an existing file`);
  const s = await stat(path);
  if (!s.isFile()) throw new UsageError(`"${input}" is not a file`);
  if (!json) process.stderr.write(`uploading ${input} (${formatBytes(s.size)})…\n`);
  const uploaded = await client.uploadFile(path);
  return uploaded.uri;
}

export async function submitCommand(args: Parsed, client: VidfleetClient): Promise<number> {
  const kind = requirePositional(args, 0, 'job kind (e.g. probe, thumbnail)');
  const rawInput = requirePositional(args, 1, 'input (a local file, store://…, file:///…, or http(s)://…)');
  const json = Boolean(args.values.json);
  const input = await resolveSubmitInput(client, rawInput, json);
  const job = await client.submitJob(
    {
      kind,
      input,
      params: parseParams(args.values.param as string[] | undefined),
      priority: args.values.priority === undefined ? undefined : intOption(args, 'priority', 0),
      ...(args.values.require !== undefined && { requires: args.values.require as string[] }),
    },
    { idempotencyKey: args.values['idempotency-key'] as string | undefined },
  );
  if (args.values.wait) return watchJob(client, job.id, json);
  if (json) printJson(job);
  else println(job.id);
  return 0;
}

function describeJob(job: Job): string[] {
  const lines = [
    `job ${job.id}`,
    `  kind      ${job.kind}`,
    `  input     ${job.input}`,
    `  status    ${job.status}${job.status === 'running' ? ` (${Math.round(job.progress * 100)}%)` : ''}`,
    `  created   ${job.createdAt}${job.finishedAt ? `, finished ${job.finishedAt}` : ''}`,
  ];
  if (job.error) lines.push(`  error     ${job.error.message} [${job.error.code}]`, `  hint      ${job.error.hint}`);
  for (const t of job.tasks ?? []) lines.push(`  task ${t.id} ${t.kind} ${t.status} attempt ${t.attempt}/${t.maxAttempts}`);
  return lines;
}

export async function statusCommand(args: Parsed, client: VidfleetClient): Promise<number> {
  const job = await client.getJob(requirePositional(args, 0, 'job id'));
  if (args.values.json) printJson(job);
  else describeJob(job).forEach((l) => println(l));
  return 0;
}

export async function jobsCommand(args: Parsed, client: VidfleetClient): Promise<number> {
  const page = await client.listJobs({
    status: args.values.status as string | undefined,
    kind: args.values.kind as string | undefined,
    limit: intOption(args, 'limit', 20),
    cursor: args.values.cursor as string | undefined,
  });
  if (args.values.json) {
    printJson(page);
    return 0;
  }
  if (page.jobs.length === 0) println('no jobs');
  for (const j of page.jobs) {
    println(`${j.id}  ${j.kind.padEnd(10)} ${j.status.padEnd(9)} ${String(Math.round(j.progress * 100)).padStart(3)}%  ${j.createdAt}  ${j.input}`);
  }
  if (page.nextCursor) println(`more: vidfleet jobs --cursor ${page.nextCursor}`);
  return 0;
}

async function downloadVerified(client: VidfleetClient, artifact: Artifact, dir: string): Promise<string> {
  if (!isSafeStoreKey(artifact.name)) throw new VidfleetError('VALIDATION_FAILED', `Refusing artifact name "${artifact.name}".`);
  const target = join(dir, artifact.name);
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.part`;
  const hash = createHash('sha256');
  const hasher = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(await client.downloadArtifact(artifact.jobId, artifact.name), hasher, createWriteStream(partial));
    const sha256 = hash.digest('hex');
    if (sha256 !== artifact.sha256) throw new VidfleetError('UPLOAD_INCOMPLETE', `Downloaded ${artifact.name} has SHA-256 ${sha256}, expected ${artifact.sha256}; run get again.`);
    await rename(partial, target);
    return target;
  } finally {
    await rm(partial, { force: true });
  }
}

export async function downloadArtifacts(client: VidfleetClient, jobId: string, dir: string): Promise<{ artifact: Artifact; path: string }[]> {
  const artifacts = await client.listArtifacts(jobId);
  const saved = [];
  for (const artifact of artifacts) saved.push({ artifact, path: await downloadVerified(client, artifact, dir) });
  return saved;
}

export async function getCommand(args: Parsed, client: VidfleetClient): Promise<number> {
  const jobId = requirePositional(args, 0, 'job id');
  const dir = resolve((args.values.output as string | undefined) ?? jobId);
  const saved = await downloadArtifacts(client, jobId, dir);
  if (args.values.json) printJson(saved.map((s) => ({ ...s.artifact, path: s.path })));
  else if (saved.length === 0) println(`job ${jobId} has no artifacts (yet)`);
  else saved.forEach((s) => println(`${s.path}  (${formatBytes(s.artifact.size)}, sha256 ${s.artifact.sha256.slice(0, 12)}…)`));
  return 0;
}

/** Shows a progress bar until the job ends; exit code 0 when it completed, 1 otherwise. */
/** " 48 fps 1.9x ETA 0:42" from the running tasks' latest detail (the first that has it). */
export function describeDetail(job: Job): string {
  const d = job.tasks?.find((t) => t.progressDetail)?.progressDetail;
  const speed = d ? describeSpeed(d) : '';
  return speed ? ` ${speed}` : '';
}

/**
 * Follows a job to its end: one bar for the job and one per task group (a transcode's chunk
 * encodes per rung, its merges, …) with fps, speed and ETA, live from the job's event stream.
 */
export async function watchJob(client: VidfleetClient, jobId: string, json: boolean): Promise<number> {
  let job = await client.getJob(jobId);
  const endedAlready = isTerminalJobStatus(job.status);
  if (!json && !endedAlready) job = await followJob(client, job);
  else while (!isTerminalJobStatus(job.status)) job = await client.getJob(jobId, 20);
  if (json) printJson(job);
  else {
    // A job that ended before watch began is drawn once, as read (its events may be pruned).
    if (endedAlready) drawJob(new MultiBar(), job, withTasks(job));
    if (job.error) process.stderr.write(`${job.error.message} [${job.error.code}]\n  hint: ${job.error.hint}\n`);
  }
  return job.status === 'completed' ? 0 : 1;
}

function withTasks(job: Job): TaskGroups {
  const groups = new TaskGroups();
  groups.load(job, true);
  return groups;
}

function drawJob(bars: MultiBar, job: Job, groups: TaskGroups): void {
  const views = groups.view();
  bars.render([
    { label: `${job.kind} ${job.id}`, fraction: job.status === 'completed' ? 1 : job.progress, status: `${job.status}${describeDetail(job)}` },
    // A single-task job needs no second bar.
    ...(views.length > 1 || (views[0]?.total ?? 0) > 1 ? views.map((g) => ({ label: `  ${g.name}`, fraction: g.fraction, status: describeGroup(g) })) : []),
  ]);
}

/** How often the bars are redrawn and the job's own progress re-read while events stream in. */
const REDRAW_MS = 250;

async function followJob(client: VidfleetClient, first: Job): Promise<Job> {
  let job = first;
  const groups = new TaskGroups();
  groups.load(job, false);
  const bars = new MultiBar();
  let drawnAt = 0;
  const stop = new AbortController();
  for await (const e of client.followEvents({ jobId: job.id, signal: stop.signal })) {
    const grew = groups.apply(e);
    const ended = e.type === 'job.completed' || e.type === 'job.failed' || e.type === 'job.canceled';
    if (grew || ended || Date.now() - drawnAt >= REDRAW_MS) {
      job = await client.getJob(job.id);
      if (grew) groups.load(job, false);
      drawJob(bars, job, groups);
      drawnAt = Date.now();
    }
    if (ended) break;
  }
  stop.abort();
  return client.getJob(job.id, 0);
}

export async function watchCommand(args: Parsed, client: VidfleetClient): Promise<number> {
  return watchJob(client, requirePositional(args, 0, 'job id'), Boolean(args.values.json));
}

export async function cancelCommand(args: Parsed, client: VidfleetClient): Promise<number> {
  const job = await client.cancelJob(requirePositional(args, 0, 'job id'));
  if (args.values.json) printJson(job);
  else println(`${job.id} ${job.status}`);
  return 0;
}
