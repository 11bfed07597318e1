// Where uploaded inputs and job artifacts live. Local directory now; S3-compatible later, behind
// the same interface. Keys are relative paths (see isSafeStoreKey): uploads/…, jobs/{job}/….
import type { Readable } from 'node:stream';

export interface StoredBlob {
  key: string;
  size: number;
  sha256: string;
}

export interface BlobStat {
  size: number;
  modifiedAt: Date;
}

export interface BlobStore {
  /**
   * Streams `body` into `key`. The bytes become visible under `key` only once all of them are
   * written (no half-written blob is ever readable); a body over `maxBytes` is refused with
   * UPLOAD_TOO_LARGE and leaves nothing behind.
   */
  put(key: string, body: Readable, options: { maxBytes: number; expectedSha256?: string }): Promise<StoredBlob>;
  stat(key: string): Promise<BlobStat | null>;
  /** Inclusive byte range, as in HTTP Range. */
  read(key: string, range?: { start: number; end: number }): Readable;
  delete(key: string): Promise<void>;
}
