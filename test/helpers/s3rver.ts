// A real S3-protocol server for tests: s3rver in a child process (see s3rver-server.mjs) on a
// random loopback port, over a fresh temp directory, with one bucket already there.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3-client.js';
import { REPO_ROOT } from './shared-media.js';

/** s3rver accepts any well-formed signature made with this pair. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface TestS3 {
  endpoint: string;
  region: string;
  bucket: string;
  credentials: typeof S3RVER_CREDENTIALS;
  /** A client for checking the bucket behind the code under test. */
  client: S3Client;
  /** Keys of multipart uploads started and neither completed nor aborted. */
  openUploads(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<TestS3> {
  const dir = await mkdtemp(join(tmpdir(), 'vidfleet-s3rver-'));
  const bucket = `vidfleet-test-${randomBytes(4).toString('hex')}`;
  const child = spawn(process.execPath, [join(REPO_ROOT, 'test', 'helpers', 's3rver-server.mjs')], {
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider', S3RVER_DIR: dir, S3RVER_BUCKETS: bucket },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let port: number;
  try {
    port = await firstLinePort(child, () => stderr);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  const client = createS3Client({ endpoint, region, credentials: S3RVER_CREDENTIALS });
  return {
    endpoint,
    region,
    bucket,
    credentials: S3RVER_CREDENTIALS,
    client,
    async openUploads() {
      const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (out.Uploads ?? []).map((u) => u.Key ?? '');
    },
    async stop() {
      client.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.stdin!.end();
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function firstLinePort(child: ChildProcess, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within 20 s: ${stderr().slice(-2000)}`)), 20_000);
    const onExit = (code: number | null): void => fail(new Error(`s3rver exited (${code}) before listening: ${stderr().slice(-2000)}`));
    function fail(err: Error): void {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      reject(err);
    }
    child.once('exit', onExit);
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      lines.close();
      child.stdout!.resume(); // anything it prints later is dropped, never left to fill the pipe
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`s3rver printed "${line}" instead of its port`));
      }
    });
  });
}
