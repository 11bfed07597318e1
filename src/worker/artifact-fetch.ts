// Fetching another task's output (a graph's encoded chunk, the audio track) to a local file. The
// bytes are hashed on the way in and compared with the SHA-256 the coordinator recorded at upload
// (its ETag, or, when the download was redirected to S3, the object's sha256 metadata), so a
// merge never stitches a chunk that was cut short or altered in between.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { VidfleetClient } from '../client/api-client.js';
import { VidfleetError } from '../protocol/index.js';

export async function fetchArtifact(client: VidfleetClient, jobId: string, name: string, path: string, signal?: AbortSignal): Promise<void> {
  const response = await client.downloadArtifact(jobId, name, signal);
  const expected = /^"([0-9a-f]{64})"$/.exec(String(response.headers.etag ?? ''))?.[1] ?? /^[0-9a-f]{64}$/.exec(String(response.headers['x-amz-meta-sha256'] ?? ''))?.[0];
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(response, tap, createWriteStream(path), signal ? { signal } : {});
  } catch (err) {
    await rm(path, { force: true });
    throw err instanceof VidfleetError ? err : new VidfleetError('INPUT_UNREADABLE', `Downloading artifact "${name}" of job ${jobId} failed: ${(err as Error).message}`, { cause: err });
  }
  const actual = hash.digest('hex');
  if (expected && actual !== expected) {
    await rm(path, { force: true });
    throw new VidfleetError('INPUT_UNREADABLE', `Artifact "${name}" of job ${jobId} arrived with SHA-256 ${actual}, not the ${expected} recorded at upload; it is fetched again on the next attempt.`);
  }
}
