// Picks the BlobStore from the configured storage: s3://bucket/prefix means an S3-compatible
// bucket (checked now, so a wrong bucket or key fails the start, not the first upload), anything
// else a local directory.
import { mkdir } from 'node:fs/promises';
import type { BlobStore } from '../storage/blob-store.js';
import { LocalBlobStore } from '../storage/local.js';
import { S3BlobStore } from '../storage/s3.js';
import { isS3Url, parseS3Url } from '../storage/s3-location.js';
import type { CoordinatorConfig } from './config.js';

export async function openBlobStore(config: CoordinatorConfig): Promise<BlobStore> {
  if (!isS3Url(config.storage)) {
    await mkdir(config.storeDir, { recursive: true });
    return new LocalBlobStore(config.storeDir);
  }
  const { bucket, prefix } = parseS3Url(config.storage);
  const store = new S3BlobStore({
    bucket,
    prefix,
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    credentials: config.s3AccessKeyId && config.s3SecretAccessKey ? { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey } : undefined,
  });
  try {
    await store.checkReachable();
  } catch (err) {
    store.close();
    throw err;
  }
  return store;
}
