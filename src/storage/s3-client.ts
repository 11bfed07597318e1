// One S3 client per store, set up the way S3-compatible servers need it.
import { S3Client } from '@aws-sdk/client-s3';

export interface S3ConnectionOptions {
  /** An S3-compatible server (MinIO, s3rver, …); absent means AWS itself. */
  endpoint?: string;
  region: string;
  /** Absent: the SDK's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export function createS3Client(options: S3ConnectionOptions): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint !== undefined && {
      endpoint: options.endpoint,
      // Self-hosted servers rarely resolve bucket.host names; the bucket goes in the path.
      forcePathStyle: true,
    }),
    ...(options.credentials && { credentials: options.credentials }),
    // A streamed download holds its socket for as long as the client reading it; the SDK's
    // default of 50 sockets would let 50 slow readers stall every upload and stat behind them.
    requestHandler: {
      connectionTimeout: 10_000,
      httpAgent: { keepAlive: true, maxSockets: 512 },
      httpsAgent: { keepAlive: true, maxSockets: 512 },
    },
    // By default the SDK adds CRC checksums and, for streamed bodies, aws-chunked framing, which
    // s3rver (and older MinIO) store verbatim as part of the object. vidfleet checks SHA-256
    // itself, so checksums are sent only where the API demands them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
