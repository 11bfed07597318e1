// `s3://bucket/optional/prefix`: where an S3BlobStore keeps its objects. Parsed once, when the
// coordinator's configuration is read, so a typo fails at start rather than at the first upload.

export interface S3Location {
  bucket: string;
  /** Without leading or trailing slashes; '' for the bucket's root. */
  prefix: string;
}

export function isS3Url(storage: string): boolean {
  return /^s3:/i.test(storage);
}

// S3's rules for new buckets (3-63 characters, lower case, digits, dots, hyphens, alphanumeric at
// both ends); MinIO and s3rver accept the same names.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Throws an Error whose message says what is wrong with the URL. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(url);
  if (!m || !url.startsWith('s3://')) {
    throw new Error(`"${url}" is not an S3 URL; write s3://bucket or s3://bucket/prefix (no query or fragment)`);
  }
  const bucket = m[1] ?? '';
  if (bucket === '') throw new Error(`"${url}" names no bucket; write s3://bucket or s3://bucket/prefix`);
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw new Error(`"${bucket}" in "${url}" is not a valid bucket name (3-63 characters: lower-case letters, digits, dots and hyphens)`);
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix !== '' && prefix.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) {
    throw new Error(`the prefix "${prefix}" in "${url}" has an empty, "." or ".." segment`);
  }
  return { bucket, prefix };
}
