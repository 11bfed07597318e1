// BlobStore on a local directory. Writes go to a temp file beside the final one and are renamed
// into place, so a reader sees either nothing or the whole blob, even if the process dies.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { VidfleetError, isSafeStoreKey } from '../protocol/index.js';
import type { BlobStat, BlobStore, StoredBlob } from './blob-store.js';

export class LocalBlobStore implements BlobStore {
  private readonly tmpDir: string;

  constructor(readonly root: string) {
    this.tmpDir = join(root, '.tmp');
  }

  private pathOf(key: string): string {
    if (!isSafeStoreKey(key)) throw new VidfleetError('BLOB_NOT_FOUND', `"${key}" is not a valid store key.`);
    return join(this.root, key);
  }

  async put(key: string, body: Readable, options: { maxBytes: number; expectedSha256?: string }): Promise<StoredBlob> {
    const finalPath = this.pathOf(key);
    await mkdir(this.tmpDir, { recursive: true });
    const tmpPath = join(this.tmpDir, `${randomBytes(8).toString('hex')}.part`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > options.maxBytes) {
          cb(new VidfleetError('UPLOAD_TOO_LARGE', `Upload exceeds the limit of ${options.maxBytes} bytes.`, { details: { maxBytes: options.maxBytes } }));
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(tmpPath));
      const sha256 = hash.digest('hex');
      if (options.expectedSha256 && options.expectedSha256.toLowerCase() !== sha256) {
        throw new VidfleetError('UPLOAD_INCOMPLETE', `Checksum mismatch: the sender computed ${options.expectedSha256}, the coordinator received ${sha256}.`);
      }
      await mkdir(dirname(finalPath), { recursive: true });
      await rename(tmpPath, finalPath);
      return { key, size, sha256 };
    } catch (err) {
      await rm(tmpPath, { force: true });
      if (err instanceof VidfleetError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ABORT_ERR') {
        throw new VidfleetError('UPLOAD_INCOMPLETE', 'The upload was interrupted before it finished.', { cause: err });
      }
      throw new VidfleetError('STORAGE_FAILED', `Could not store ${key}: ${(err as Error).message}`, { cause: err });
    }
  }

  async stat(key: string): Promise<BlobStat | null> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? { size: s.size, modifiedAt: s.mtime } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(key), range ? { start: range.start, end: range.end } : undefined);
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}
