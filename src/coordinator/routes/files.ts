// Client routes for bytes: upload an input, read a stored blob, list and download artifacts.
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ListArtifactsResponse, UploadResponse, VidfleetError, isSafeStoreKey } from '../../protocol/index.js';
import type { CoordinatorDeps } from '../deps.js';
import { sendBlob } from '../blob-response.js';
import { metricsOf } from '../metrics.js';
import { acceptRawBodies, rawBody } from '../raw-body.js';
import { principalOf } from '../auth/principal.js';
import { MAX_BLOB_URL_SECONDS, blobTokenQuery } from '../auth/blob-tokens.js';

const UploadQuery = Type.Object({ name: Type.Optional(Type.String({ maxLength: 255 })) });
const BlobUrlBody = Type.Object(
  { key: Type.String({ minLength: 1, maxLength: 1024 }), ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BLOB_URL_SECONDS })) },
  { additionalProperties: false },
);

/** Keeps what a file name says while making it a safe single path segment. */
export function safeFileName(name: string | undefined, fallback: string): string {
  const cleaned = basename(name ?? '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '');
  return cleaned.length > 0 ? cleaned.slice(0, 200) : fallback;
}

export function registerFileRoutes(app: FastifyInstance, deps: CoordinatorDeps): void {
  const { store, blobs, config } = deps;
  const direct = config.s3DirectDownloads ? { ttlSeconds: config.s3PresignTtlSeconds } : undefined;
  const metrics = metricsOf(deps);

  void app.register(async (scope) => {
    acceptRawBodies(scope);
    scope.post('/v1/uploads', { schema: { querystring: UploadQuery, response: { 201: UploadResponse } } }, async (request, reply) => {
      const { name } = request.query as { name?: string };
      const declared = Number(request.headers['content-length']);
      if (Number.isFinite(declared) && declared > config.maxUploadBytes) {
        throw new VidfleetError('UPLOAD_TOO_LARGE', `The upload is ${declared} bytes; the limit is ${config.maxUploadBytes} bytes.`, { details: { maxBytes: config.maxUploadBytes } });
      }
      const key = `uploads/${Date.now().toString(36)}-${randomBytes(4).toString('hex')}/${safeFileName(name, 'upload.bin')}`;
      // A signed upload declared its digest up front: the bytes must match it.
      const signed = principalOf(request).contentSha256;
      const stored = await blobs.put(key, rawBody(request), { maxBytes: config.maxUploadBytes, ...(signed && { expectedSha256: signed }) });
      metrics.bytesUploaded('input', stored.size);
      const response: UploadResponse = { key, uri: `store://${key}`, size: stored.size, sha256: stored.sha256 };
      return reply.status(201).send(response);
    });
  });

  app.get('/v1/blobs/*', async (request, reply) => {
    const key = (request.params as { '*': string })['*'];
    if (!isSafeStoreKey(key)) throw new VidfleetError('BLOB_NOT_FOUND', `"${key}" is not a valid store key.`);
    return sendBlob(request, reply, blobs, key, { contentType: 'application/octet-stream' }, direct);
  });

  // A URL ffmpeg can read a stored blob from without signing (see auth/blob-tokens.ts). On a
  // coordinator without keys the plain blob URL is the answer.
  app.post('/v1/blob-urls', { schema: { body: BlobUrlBody } }, async (request) => {
    const { key, ttlSeconds = 6 * 3600 } = request.body as { key: string; ttlSeconds?: number };
    if (!isSafeStoreKey(key)) throw new VidfleetError('BLOB_NOT_FOUND', `"${key}" is not a valid store key.`);
    const path = `/v1/blobs/${key.split('/').map(encodeURIComponent).join('/')}`;
    if (principalOf(request).keyId === null) return { path };
    return { path: `${path}?${blobTokenQuery(deps.auth.sealingKey, key, Date.now() + ttlSeconds * 1000)}` };
  });

  app.get('/v1/jobs/:id/artifacts', { schema: { response: { 200: ListArtifactsResponse } } }, async (request) => {
    const { id } = request.params as { id: string };
    if (!(await store.getJob(id))) throw new VidfleetError('JOB_NOT_FOUND', `No job ${id}.`);
    return { artifacts: await store.listArtifacts(id) };
  });

  app.get('/v1/jobs/:id/artifacts/*', async (request, reply) => {
    const { id, '*': name } = request.params as { id: string; '*': string };
    const artifact = await store.getArtifact(id, name);
    if (!artifact) {
      if (!(await store.getJob(id))) throw new VidfleetError('JOB_NOT_FOUND', `No job ${id}.`);
      throw new VidfleetError('ARTIFACT_NOT_FOUND', `Job ${id} has no artifact "${name}".`);
    }
    return sendBlob(request, reply, blobs, artifact.key, { contentType: artifact.contentType, filename: basename(name), sha256: artifact.sha256 }, direct);
  });
}
