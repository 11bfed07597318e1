// Streams request bodies straight to storage instead of buffering them: uploads can be far
// larger than memory. Size limits are enforced by the BlobStore while it writes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';

export function acceptRawBodies(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
}

export function rawBody(request: FastifyRequest): Readable {
  return request.raw;
}
