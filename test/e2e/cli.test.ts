// The vidfleet command as users run it: built CLI, separate processes, real ports.
// (`npm test` builds dist/ first; the CLI under test is bin/vidfleet.js.)
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSampleClip } from '../../src/media/sample.js';
import type { Job, ThumbnailResult } from '../../src/protocol/index.js';
import { REPO_ROOT } from '../helpers/shared-media.js';

const BIN = join(REPO_ROOT, 'bin', 'vidfleet.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function vidfleet(args: string[], env: Record<string, string> = {}, cwd = REPO_ROOT): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
let up: ChildProcess;
let url: string;
let clip: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vidfleet-cli-'));
  clip = join(dir, 'clip.mp4');
  await generateSampleClip(clip, { seconds: 3, width: 480, height: 270 });
  up = spawn(process.execPath, [BIN, 'up', '--port', '0', '--data', join(dir, 'data'), '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    up.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /is up at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    up.on('exit', (code) => reject(new Error(`vidfleet up exited early (${code}): ${out}`)));
  });
});

afterAll(async () => {
  if (up && up.exitCode === null) {
    up.kill('SIGTERM');
    await new Promise((r) => up.once('exit', r));
  }
  await rm(dir, { recursive: true, force: true });
});

describe('vidfleet CLI', () => {
  it('submit (uploading a local file) → watch → status → get', async () => {
    const env = { VIDFLEET_URL: url };
    const submitted = await vidfleet(['submit', 'thumbnail', clip, '--param', 'width=200', '--param', 'format=webp', '--json'], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const job = JSON.parse(submitted.stdout) as Job;
    expect(job.input).toMatch(/^store:\/\/uploads\//);

    const watched = await vidfleet(['watch', job.id], env);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toContain('completed');

    const status = await vidfleet(['status', job.id, '--json'], env);
    const finished = JSON.parse(status.stdout) as Job;
    expect(finished.status).toBe('completed');
    const result = finished.result as ThumbnailResult;
    expect(result).toMatchObject({ width: 200, format: 'webp' });

    const out = join(dir, 'out');
    const got = await vidfleet(['get', job.id, '-o', out], env);
    expect(got.code, got.stderr).toBe(0);
    const saved = join(out, result.artifact);
    expect(got.stdout).toContain(saved);
    expect((await stat(saved)).size).toBeGreaterThan(100);

    const human = await vidfleet(['status', job.id, '--coordinator', url]);
    expect(human.stdout).toContain(`job ${job.id}`);
    const list = await vidfleet(['jobs', '--json'], env);
    expect((JSON.parse(list.stdout) as { jobs: Job[] }).jobs.map((j) => j.id)).toContain(job.id);
  });

  it('watch shows a transcode by task group (plan, chunk encodes, audio, merges) as it runs', async () => {
    const env = { VIDFLEET_URL: url };
    const submitted = await vidfleet(
      ['submit', 'transcode', clip, '--param', 'renditions=[{"name":"180p","height":180},{"name":"144p","height":144}]', '--param', 'chunkSeconds=1', '--param', 'minChunkSeconds=1', '--json'],
      env,
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    const job = JSON.parse(submitted.stdout) as Job;
    const watched = await vidfleet(['watch', job.id], env);
    expect(watched.code, watched.stderr).toBe(0);
    // Not a terminal: one line per group whenever its summary or tenth of progress changes. (What
    // was running in between depends on when watch started: test/cli/task-groups.test.ts covers it.)
    const lines = watched.stderr.split('\n');
    expect(lines.some((l) => /^\s+plan\s+\[#+\] 100% 1\/1 done/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s+video\s+\[#+\] 100% (\d+)\/\1 done/.test(l))).toBe(true);
    expect(lines.some((l) => /^\s+merge\s+\[#+\] 100% 2\/2 done/.test(l))).toBe(true);
    expect(lines.some((l) => /^transcode job_\S+\s+\[#+\] 100% completed/.test(l)), watched.stderr).toBe(true);
  });

  it('submit --wait exits non-zero with the reason when the job fails', async () => {
    const run = await vidfleet(['submit', 'probe', 'file:///no/such/file.mp4', '--wait'], { VIDFLEET_URL: url });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('INPUT_NOT_FOUND');
  });

  it('usage errors exit 2 and say what is wrong', async () => {
    const missing = await vidfleet(['submit', 'probe', join(dir, 'nope.mp4')], { VIDFLEET_URL: url });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/neither a URI .* nor an existing file/);
    const flag = await vidfleet(['jobs', '--bogus']);
    expect(flag.code).toBe(2);
    const command = await vidfleet(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('unknown command');
  });

  it('API errors exit 3 with the code and the hint', async () => {
    const run = await vidfleet(['submit', 'transmogrify', 'file:///a.mp4'], { VIDFLEET_URL: url });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('UNKNOWN_KIND');
    expect(run.stderr).toContain('hint:');
  });

  it('says how to start a coordinator when none answers', async () => {
    const run = await vidfleet(['jobs'], { VIDFLEET_URL: 'http://127.0.0.1:9' });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/Cannot reach the coordinator .*vidfleet up/);
  });

  it('demo probes and thumbnails a generated sample, saves both and exits 0', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'vidfleet-demo-'));
    try {
      const run = await vidfleet(['demo'], {}, cwd);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const probePath = join(cwd, 'vidfleet-demo', 'probe', 'probe.json');
      const thumbPath = join(cwd, 'vidfleet-demo', 'thumbnail', 'thumbnail.jpg');
      expect(run.stdout).toContain(probePath);
      expect(run.stdout).toContain(thumbPath);
      expect(JSON.parse(await readFile(probePath, 'utf8')).duration).toBeCloseTo(10, 0);
      expect(existsSync(thumbPath)).toBe(true);
      expect(run.stdout).toMatch(/1280x720/);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  }, 120_000);
});
