// Runs s3rver (a real S3-protocol server on the file system) for tests, in its own process:
// started by test/helpers/s3rver.ts with NODE_OPTIONS=--openssl-legacy-provider, which s3rver's
// ListObjectsV2 continuation tokens (DES) need on current OpenSSL.
//
// env: S3RVER_DIR (data directory), S3RVER_BUCKETS (comma-separated). Prints one JSON line
// {"port":N} once listening; exits when its stdin closes (the test process ended) or on SIGTERM.
//
// s3rver 3.7 lacks two calls real S3 and MinIO have: AbortMultipartUpload (it answers
// MethodNotAllowed) and ListMultipartUploads (NotImplemented). Both are added here over its own
// file layout (<dir>/<bucket>/._S3rver_uploads/<uploadId>/{key,metadata,<part>}), so tests can
// check that a failed upload leaves no multipart upload behind.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import S3rver from 's3rver';

const directory = process.env.S3RVER_DIR;
const buckets = (process.env.S3RVER_BUCKETS ?? '').split(',').filter(Boolean);
if (!directory) throw new Error('S3RVER_DIR is required');

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});

const uploadsDir = (bucket) => join(directory, bucket, '._S3rver_uploads');
const exists = (path) => stat(path).then(() => true, () => false);

async function multipartShim(ctx, next) {
  const [, bucket, ...rest] = ctx.path.split('/');
  const key = rest.map(decodeURIComponent).join('/');
  if (ctx.method === 'DELETE' && bucket && key && typeof ctx.query.uploadId === 'string') {
    const dir = join(uploadsDir(bucket), ctx.query.uploadId.replace(/[^0-9a-f]/g, ''));
    if (!(await exists(dir))) {
      ctx.status = 404;
      ctx.body = { Error: { Code: 'NoSuchUpload', Message: 'The specified upload does not exist.', UploadId: ctx.query.uploadId } };
      return;
    }
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'GET' && bucket && !key && 'uploads' in ctx.query) {
    const ids = await readdir(uploadsDir(bucket)).catch(() => []);
    const uploads = [];
    for (const id of ids) {
      const uploadKey = await readFile(join(uploadsDir(bucket), id, 'key'), 'utf8').catch(() => null);
      if (uploadKey !== null) uploads.push({ Key: uploadKey, UploadId: id });
    }
    ctx.body = { ListMultipartUploadsResult: { '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' }, Bucket: bucket, IsTruncated: false, Upload: uploads } };
    return;
  }
  await next();
}

// Before the router (the last middleware), after the XML encoder and the vhost rewrite.
server.middleware.splice(server.middleware.length - 1, 0, multipartShim);

const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);

let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  await server.close().catch(() => undefined);
  process.exit(0);
}
process.stdin.on('end', close).on('close', close).resume();
process.on('SIGTERM', close);
process.on('SIGINT', close);
