// One conformance suite for every BlobStore: the local directory and S3 (on a real s3rver).
// Both must give the same answers, above all that a refused or broken upload leaves nothing
// readable and nothing half-written behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VidfleetError } from '../../src/protocol/index.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { LocalBlobStore } from '../../src/storage/local.js';
import { S3BlobStore } from '../../src/storage/s3.js';
import { startS3rver, type TestS3 } from '../helpers/s3rver.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `bytes` as a network-like stream of 64 KiB chunks; `failAfter` bytes in, it errors instead. */
function bodyOf(bytes: Buffer, failAfter?: number): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += 64 * 1024) {
        if (failAfter !== undefined && at >= failAfter) throw Object.assign(new Error('connection reset by test'), { code: 'ECONNRESET' });
        yield bytes.subarray(at, at + 64 * 1024);
      }
    })(),
    { objectMode: false },
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof VidfleetError ? err.code : `not a VidfleetError: ${String(err)}`;
  }
  return 'resolved';
}

interface Subject {
  store: BlobStore;
  /** Half-written state the store keeps out of sight: temp files, open multipart uploads. */
  leftovers(): Promise<string[]>;
  /** S3 only: the object's metadata, to see what was written with it. */
  head?(key: string): Promise<{ metadata: Record<string, string> }>;
  /** S3 only: the names of the SDK commands the store sent so far. */
  commands?: string[];
}

let s3: TestS3;
let localRoot: string;

beforeAll(async () => {
  s3 = await startS3rver();
  localRoot = await mkdtemp(join(tmpdir(), 'vidfleet-blobs-'));
});

afterAll(async () => {
  await s3?.stop();
  if (localRoot) await rm(localRoot, { recursive: true, force: true });
});

const subjects: Array<[string, () => Subject]> = [
  [
    'LocalBlobStore',
    () => ({
      store: new LocalBlobStore(localRoot),
      leftovers: async () => readdir(join(localRoot, '.tmp')).catch(() => []),
    }),
  ],
  [
    'S3BlobStore',
    () => {
      const store = new S3BlobStore({ endpoint: s3.endpoint, region: s3.region, credentials: s3.credentials, bucket: s3.bucket, prefix: 'fleet/blobs' });
      const commands: string[] = [];
      store.client.middlewareStack.add(
        (next, context) => (args) => {
          commands.push(context.commandName ?? '?');
          return next(args);
        },
        { step: 'initialize' },
      );
      return {
        store,
        commands,
        leftovers: () => s3.openUploads(),
        async head(key) {
          const out = await s3.client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `fleet/blobs/${key}` }));
          return { metadata: out.Metadata ?? {} };
        },
      };
    },
  ],
];

describe.each(subjects)('%s', (_name, make) => {
  let subject: Subject;
  let store: BlobStore;
  beforeAll(() => {
    subject = make();
    store = subject.store;
  });
  afterAll(async () => {
    await store.close?.();
  });

  it('puts, stats, reads whole and by range, and deletes', async () => {
    const bytes = randomBytes(300_000);
    const key = 'jobs/j1/a1/thumb.jpg';
    const stored = await store.put(key, bodyOf(bytes), { maxBytes: MiB });
    expect(stored).toEqual({ key, size: bytes.length, sha256: sha(bytes) });

    const stat = await store.stat(key);
    expect(stat?.size).toBe(bytes.length);
    expect(stat?.modifiedAt).toBeInstanceOf(Date);
    expect(Math.abs(Date.now() - stat!.modifiedAt.getTime())).toBeLessThan(60_000);

    expect((await readAll(store.read(key))).equals(bytes)).toBe(true);
    expect((await readAll(store.read(key, { start: 10, end: 19 })))).toEqual(bytes.subarray(10, 20));
    expect((await readAll(store.read(key, { start: bytes.length - 1, end: bytes.length - 1 })))).toEqual(bytes.subarray(-1));

    await store.delete(key);
    expect(await store.stat(key)).toBeNull();
    expect(await subject.leftovers()).toEqual([]);
  });

  it('stores an empty body', async () => {
    const stored = await store.put('uploads/empty.bin', bodyOf(Buffer.alloc(0)), { maxBytes: MiB });
    expect(stored).toMatchObject({ size: 0, sha256: sha(Buffer.alloc(0)) });
    expect((await store.stat('uploads/empty.bin'))?.size).toBe(0);
    await store.delete('uploads/empty.bin');
  });

  it('replaces what a key held', async () => {
    await store.put('uploads/twice.bin', bodyOf(Buffer.from('first')), { maxBytes: MiB });
    await store.put('uploads/twice.bin', bodyOf(Buffer.from('second')), { maxBytes: MiB });
    expect((await readAll(store.read('uploads/twice.bin'))).toString()).toBe('second');
    await store.delete('uploads/twice.bin');
  });

  it('refuses a body over maxBytes and leaves nothing, small or past the first part', async () => {
    expect(await codeOf(store.put('uploads/big.bin', bodyOf(randomBytes(2 * MiB)), { maxBytes: MiB }))).toBe('UPLOAD_TOO_LARGE');
    expect(await store.stat('uploads/big.bin')).toBeNull();
    // 20 MiB against 12: for S3 a first 8 MiB part is already uploaded when the limit is crossed.
    expect(await codeOf(store.put('uploads/bigger.bin', bodyOf(randomBytes(20 * MiB)), { maxBytes: 12 * MiB }))).toBe('UPLOAD_TOO_LARGE');
    expect(await store.stat('uploads/bigger.bin')).toBeNull();
    expect(await subject.leftovers()).toEqual([]);
  });

  it('refuses a body whose SHA-256 is not the expected one and leaves nothing', async () => {
    for (const size of [1000, 17 * MiB]) {
      const key = `jobs/j2/a1/wrong-${size}.bin`;
      const code = await codeOf(store.put(key, bodyOf(randomBytes(size)), { maxBytes: 20 * MiB, expectedSha256: sha(Buffer.from('something else')) }));
      expect(code, `${size} bytes`).toBe('UPLOAD_INCOMPLETE');
      expect(await store.stat(key)).toBeNull();
    }
    expect(await subject.leftovers()).toEqual([]);
  });

  it('leaves nothing when the body breaks mid-way, before or after a part went out', async () => {
    for (const failAfter of [100_000, 10 * MiB]) {
      const key = `uploads/broken-${failAfter}.bin`;
      const code = await codeOf(store.put(key, bodyOf(randomBytes(20 * MiB), failAfter), { maxBytes: 100 * MiB }));
      expect(code, `broken after ${failAfter} bytes`).toBe('UPLOAD_INCOMPLETE');
      expect(await store.stat(key)).toBeNull();
    }
    expect(await subject.leftovers()).toEqual([]);
  });

  it('round-trips a 20 MiB body (multipart on S3) with the right SHA-256', async () => {
    const bytes = randomBytes(20 * MiB + 12345);
    const key = 'jobs/j3/a1/chunks/0001.mp4';
    const sentBefore = subject.commands?.length ?? 0;
    const stored = await store.put(key, bodyOf(bytes), { maxBytes: 100 * MiB, expectedSha256: sha(bytes).toUpperCase() });
    expect(stored).toEqual({ key, size: bytes.length, sha256: sha(bytes) });
    const back = await readAll(store.read(key));
    expect(back.length).toBe(bytes.length);
    expect(sha(back)).toBe(sha(bytes));
    const start = 8 * MiB - 5;
    expect(await readAll(store.read(key, { start, end: start + 9 }))).toEqual(bytes.subarray(start, start + 10));
    if (subject.head && subject.commands) {
      // Three parts of 8 + 8 + 4 MiB, never one 20 MiB buffer.
      expect(subject.commands.slice(sentBefore, sentBefore + 5)).toEqual(['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']);
      expect((await subject.head(key)).metadata.sha256).toBe(sha(bytes));
    }
    await store.delete(key);
  });

  it('keeps keys in subfolders apart', async () => {
    await store.put('jobs/j4/a1/hls/720p/seg-1.ts', bodyOf(Buffer.from('seg 1')), { maxBytes: MiB });
    await store.put('jobs/j4/a1/hls/720p/seg-2.ts', bodyOf(Buffer.from('seg 2')), { maxBytes: MiB });
    await store.put('jobs/j4/a1/hls/master.m3u8', bodyOf(Buffer.from('#EXTM3U')), { maxBytes: MiB });
    await store.delete('jobs/j4/a1/hls/720p/seg-1.ts');
    expect(await store.stat('jobs/j4/a1/hls/720p/seg-1.ts')).toBeNull();
    expect((await readAll(store.read('jobs/j4/a1/hls/720p/seg-2.ts'))).toString()).toBe('seg 2');
    expect((await readAll(store.read('jobs/j4/a1/hls/master.m3u8'))).toString()).toBe('#EXTM3U');
    if (subject.head) expect((await subject.head('jobs/j4/a1/hls/master.m3u8')).metadata.sha256).toBe(sha(Buffer.from('#EXTM3U')));
  });

  it('deletes a missing key without complaint, stats it as null and fails reading it', async () => {
    await expect(store.delete('jobs/none/a1/nothing.bin')).resolves.toBeUndefined();
    expect(await store.stat('jobs/none/a1/nothing.bin')).toBeNull();
    const err = await readAll(store.read('jobs/none/a1/nothing.bin')).then(() => null, (e: unknown) => e as NodeJS.ErrnoException);
    expect(err).not.toBeNull();
    // The local store surfaces the file system's ENOENT; routes stat first, so neither reaches a client.
    expect(['BLOB_NOT_FOUND', 'ENOENT']).toContain(err!.code);
  });

  it('refuses keys that are not relative paths', async () => {
    for (const key of ['../escape', '/abs', 'a//b', 'a/./b']) {
      expect(await codeOf(store.put(key, bodyOf(Buffer.from('x')), { maxBytes: MiB })), key).toBe('BLOB_NOT_FOUND');
      expect(() => store.read(key), key).toThrow(VidfleetError);
    }
  });
});
