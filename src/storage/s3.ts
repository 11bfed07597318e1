// BlobStore on an S3-compatible bucket (AWS S3, MinIO, s3rver), so several coordinators can
// share artifacts and uploads. Same keys as the local directory, under an optional prefix.
// Writes are atomic like the local store's rename: see s3-upload.ts.
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { VidfleetError, isSafeStoreKey } from '../protocol/index.js';
import type { BlobStat, BlobStore, PresignedResponse, StoredBlob } from './blob-store.js';
import { createS3Client, type S3ConnectionOptions } from './s3-client.js';
import { httpStatusOf, isNotFound, storageError } from './s3-errors.js';
import { partSizeFor, uploadObject } from './s3-upload.js';

export interface S3BlobStoreOptions extends S3ConnectionOptions {
  bucket: string;
  /** Keys live under `prefix/`; '' or absent for the bucket's root. */
  prefix?: string;
  /** Default 8 MiB; raised when maxBytes would need more than S3's 10,000 parts. */
  partSize?: number;
  /** Default 2: one part uploading while the next fills, ~24 MiB per upload at most. */
  partsInFlight?: number;
}

const MiB = 1024 * 1024;

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly partSize: number;
  private readonly partsInFlight: number;

  constructor(private readonly options: S3BlobStoreOptions) {
    this.client = createS3Client(options);
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.partSize = Math.max(5 * MiB, options.partSize ?? 8 * MiB);
    this.partsInFlight = options.partsInFlight ?? 2;
  }

  /** s3://bucket/prefix, for messages. */
  get url(): string {
    return `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  /** The object key of a store key; refuses keys the local store would refuse. */
  objectKey(key: string): string {
    if (!isSafeStoreKey(key)) throw new VidfleetError('BLOB_NOT_FOUND', `"${key}" is not a valid store key.`);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /** Fails with a message a person can act on when the bucket cannot be used (called at start). */
  async checkReachable(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const where = this.options.endpoint ? `at ${this.options.endpoint}` : `in AWS region ${this.options.region}`;
      const status = httpStatusOf(err);
      const e = err as Error & { code?: string };
      let why: string;
      if (status === 404) why = `the bucket does not exist ${where}; create it first`;
      else if (status === 403 || status === 401) why = `access denied ${where}; check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and that they may list, read and write the bucket`;
      else if (status === 301 || status === 400) why = `the bucket answered HTTP ${status} ${where}; it probably lives in another region (set --s3-region / AWS_REGION)`;
      else if (e.name === 'CredentialsProviderError') why = `no S3 credentials were found (${e.message}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`;
      else why = `cannot reach S3 ${where}: ${e.code && !e.message.includes(e.code) ? `${e.code}: ` : ''}${e.message}`;
      throw new Error(`Cannot use ${this.url} for storage: ${why}.`, { cause: err });
    }
  }

  async put(key: string, body: Readable, options: { maxBytes: number; expectedSha256?: string }): Promise<StoredBlob> {
    const objectKey = this.objectKey(key);
    const target = { client: this.client, bucket: this.bucket, key: objectKey, label: `s3://${this.bucket}/${objectKey}` };
    const stored = await uploadObject(target, body, {
      maxBytes: options.maxBytes,
      expectedSha256: options.expectedSha256,
      partSize: partSizeFor(options.maxBytes, this.partSize),
      partsInFlight: this.partsInFlight,
    });
    return { key, ...stored };
  }

  async stat(key: string): Promise<BlobStat | null> {
    const objectKey = this.objectKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return { size: out.ContentLength ?? 0, modifiedAt: out.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw storageError(`HeadObject s3://${this.bucket}/${objectKey}`, err);
    }
  }

  read(key: string, range?: { start: number; end: number }): Readable {
    const objectKey = this.objectKey(key);
    // The caller needs a stream now; the bytes arrive once GetObject answers. Closing the stream
    // early (a client that hung up) cancels the request or drops the body.
    const out = new PassThrough();
    const cancel = new AbortController();
    out.once('close', () => cancel.abort());
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, ...(range && { Range: `bytes=${range.start}-${range.end}` }) });
    this.client.send(command, { abortSignal: cancel.signal }).then(
      (res) => {
        if (!(res.Body instanceof Readable)) {
          out.destroy(new VidfleetError('STORAGE_FAILED', `GetObject s3://${this.bucket}/${objectKey} answered without a body stream.`));
          return;
        }
        // pipeline destroys `out` with the body's error (a dropped connection), and the body if
        // `out` is destroyed first.
        pipeline(res.Body, out).catch(() => undefined);
      },
      (err: unknown) => {
        if (out.destroyed) return;
        out.destroy(isNotFound(err) ? new VidfleetError('BLOB_NOT_FOUND', `Nothing stored at ${key}.`) : storageError(`GetObject s3://${this.bucket}/${objectKey}`, err));
      },
    );
    return out;
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      // S3 answers 204 for a key that is not there, so this is idempotent like rm -f.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw storageError(`DeleteObject s3://${this.bucket}/${objectKey}`, err);
    }
  }

  async presign(key: string, op: 'get', ttlSeconds: number, response: PresignedResponse = {}): Promise<string> {
    if (op !== 'get') throw new VidfleetError('INTERNAL', `Presigning "${String(op)}" is not supported.`);
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(key),
      ...(response.contentType && { ResponseContentType: response.contentType }),
      ...(response.contentDisposition && { ResponseContentDisposition: response.contentDisposition }),
    });
    return getSignedUrl(this.client, command, { expiresIn: ttlSeconds });
  }

  close(): void {
    this.client.destroy();
  }
}
