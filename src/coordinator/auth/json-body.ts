// JSON bodies of signed requests are checked against the digest the signature covers before they
// are parsed; unsigned requests (a coordinator without keys) skip the hash. Parsing itself stays
// Fastify's own (prototype-poisoning protection included).
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CONTENT_SHA256_HEADER, VidfleetError } from '../../protocol/index.js';

export function installSignedJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const declared = request.principal?.contentSha256;
    if (declared && createHash('sha256').update(body as Buffer).digest('hex') !== declared) {
      done(new VidfleetError('AUTH_BODY_MISMATCH', `The body does not match the ${CONTENT_SHA256_HEADER} the request was signed with.`), undefined);
      return;
    }
    parse(request, (body as Buffer).toString('utf8'), done);
  });
}
