// Streams a request body into one S3 object with bounded memory, hashing as it goes.
//
// The multipart calls are made here rather than through @aws-sdk/lib-storage because the SHA-256
// must be checked before CompleteMultipartUpload: until then S3 shows nothing under the key, so
// a body that is too large, cut short or altered leaves no object behind, only an upload that is
// aborted. A body smaller than one part is buffered and sent with a single PutObject after its
// hash is checked, which is the same guarantee with one request.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { VidfleetError } from '../protocol/index.js';
import { storageError } from './s3-errors.js';

export interface UploadTarget {
  client: S3Client;
  bucket: string;
  key: string;
  /** s3://bucket/key, for messages. */
  label: string;
}

export interface UploadOptions {
  maxBytes: number;
  expectedSha256?: string;
  /** Bytes per part (S3 wants at least 5 MiB for all but the last). */
  partSize: number;
  /** Parts uploading at once; memory held is about (partsInFlight + 1) × partSize. */
  partsInFlight: number;
}

const MAX_PARTS = 10_000;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The smallest part size (whole MiB, at least `preferred`) that fits `maxBytes` in S3's 10,000 parts. */
export function partSizeFor(maxBytes: number, preferred: number): number {
  const MiB = 1024 * 1024;
  return Math.max(preferred, Math.ceil(maxBytes / MAX_PARTS / MiB) * MiB);
}

export async function uploadObject(target: UploadTarget, body: Readable, options: UploadOptions): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  const expected = options.expectedSha256?.toLowerCase();
  let size = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let multipart: MultipartUpload | null = null;
  try {
    for await (const data of body as AsyncIterable<Buffer | string>) {
      const chunk = typeof data === 'string' ? Buffer.from(data) : data;
      size += chunk.length;
      if (size > options.maxBytes) {
        throw new VidfleetError('UPLOAD_TOO_LARGE', `Upload exceeds the limit of ${options.maxBytes} bytes.`, { details: { maxBytes: options.maxBytes } });
      }
      hash.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= options.partSize) {
        const joined = Buffer.concat(pending, pendingBytes);
        const rest = joined.subarray(options.partSize);
        pending = rest.length > 0 ? [rest] : [];
        pendingBytes = rest.length;
        // The hash is not known yet; it goes into the metadata only if the sender vouched for it
        // (and the object is completed only if the bytes match it).
        multipart ??= await MultipartUpload.start(target, options.partsInFlight, expected && SHA256_HEX.test(expected) ? expected : undefined);
        await multipart.add(joined.subarray(0, options.partSize));
      }
    }
    const sha256 = hash.digest('hex');
    if (expected && expected !== sha256) {
      throw new VidfleetError('UPLOAD_INCOMPLETE', `Checksum mismatch: the sender computed ${options.expectedSha256}, the coordinator received ${sha256}.`);
    }
    const last = Buffer.concat(pending, pendingBytes);
    if (multipart) {
      if (last.length > 0) await multipart.add(last);
      await multipart.complete();
    } else {
      await target.client
        .send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: last, ContentLength: last.length, Metadata: { sha256 } }))
        .catch((err: unknown) => {
          throw storageError(`PutObject ${target.label}`, err);
        });
    }
    return { size, sha256 };
  } catch (err) {
    await multipart?.abort();
    if (err instanceof VidfleetError) throw err;
    // Anything not already a VidfleetError came from the body, not from S3 (see storageError).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'ABORT_ERR') {
      throw new VidfleetError('UPLOAD_INCOMPLETE', 'The upload was interrupted before it finished.', { cause: err });
    }
    throw new VidfleetError('STORAGE_FAILED', `Could not store ${target.label}: ${(err as Error).message}`, { cause: err });
  }
}

/** One multipart upload with up to `limit` parts in flight; the first failure sticks. */
class MultipartUpload {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly parts: CompletedPart[] = [];
  private failure: VidfleetError | null = null;
  private nextPart = 1;

  private constructor(
    private readonly target: UploadTarget,
    private readonly uploadId: string,
    private readonly limit: number,
  ) {}

  static async start(target: UploadTarget, limit: number, sha256: string | undefined): Promise<MultipartUpload> {
    let uploadId: string | undefined;
    try {
      const out = await target.client.send(new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, ...(sha256 && { Metadata: { sha256 } }) }));
      uploadId = out.UploadId;
    } catch (err) {
      throw storageError(`CreateMultipartUpload ${target.label}`, err);
    }
    if (!uploadId) throw new VidfleetError('STORAGE_FAILED', `CreateMultipartUpload ${target.label} answered without an UploadId.`);
    return new MultipartUpload(target, uploadId, Math.max(1, limit));
  }

  /** Resolves once the part is on its way and a slot is free; rejects with an earlier part's failure. */
  async add(body: Buffer): Promise<void> {
    while (this.inFlight.size >= this.limit && !this.failure) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    if (this.nextPart > MAX_PARTS) throw new VidfleetError('STORAGE_FAILED', `${this.target.label} needs more than ${MAX_PARTS} parts; raise the part size.`);
    const partNumber = this.nextPart++;
    const sent = this.send(partNumber, body).then(() => {
      this.inFlight.delete(sent);
    });
    this.inFlight.add(sent);
  }

  async complete(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    const parts = [...this.parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    try {
      await this.target.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.target.key, UploadId: this.uploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (err) {
      throw storageError(`CompleteMultipartUpload ${this.target.label}`, err);
    }
  }

  /**
   * Waits for parts still uploading (S3 may keep a part that lands after the abort), then drops
   * the upload. A failed abort is not reported over the error that caused it: the parts are
   * invisible and billed only until a bucket lifecycle rule removes them (see docs/storage.md).
   */
  async abort(): Promise<void> {
    await Promise.all(this.inFlight);
    await this.target.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.target.bucket, Key: this.target.key, UploadId: this.uploadId }))
      .catch(() => undefined);
  }

  private async send(partNumber: number, body: Buffer): Promise<void> {
    try {
      const out = await this.target.client.send(
        new UploadPartCommand({ Bucket: this.target.bucket, Key: this.target.key, UploadId: this.uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length }),
      );
      this.parts.push({ PartNumber: partNumber, ETag: out.ETag });
    } catch (err) {
      this.failure ??= storageError(`UploadPart ${partNumber} of ${this.target.label}`, err);
    }
  }
}
