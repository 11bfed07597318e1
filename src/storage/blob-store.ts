// Where uploaded inputs and job artifacts live: a local directory (local.ts) or an S3-compatible
// bucket (s3.ts), behind one interface. Keys are relative paths (see isSafeStoreKey): uploads/…,
// jobs/{job}/….
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

/** Response headers a presigned GET makes the storage service send. */
export interface PresignedResponse {
  contentType?: string;
  contentDisposition?: string;
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
  /** Idempotent: deleting a key that holds nothing succeeds. */
  delete(key: string): Promise<void>;
  /**
   * Optional: a URL that lets anyone holding it GET the blob straight from the storage service
   * (Range included) for `ttlSeconds`, so downloads need not pass through the coordinator.
   */
  presign?(key: string, op: 'get', ttlSeconds: number, response?: PresignedResponse): Promise<string>;
  /** Optional: lets go of connections when the coordinator stops. */
  close?(): void | Promise<void>;
}
