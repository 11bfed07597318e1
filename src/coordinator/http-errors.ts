// Maps everything a route can throw to the error catalog, so every error response has the same
// shape ({code, message, hint, retryable}) and the right status. Unknown errors are logged and
// answered 500 INTERNAL without leaking internals.
import type { FastifyError, FastifyInstance } from 'fastify';
import { VidfleetError } from '../protocol/index.js';

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | VidfleetError | Error, request, reply) => {
    let error: VidfleetError;
    if (err instanceof VidfleetError) {
      error = err;
    } else if ('validation' in err && err.validation) {
      error = new VidfleetError('VALIDATION_FAILED', `Invalid request: ${err.message}.`);
    } else if ('code' in err && err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      error = new VidfleetError('VALIDATION_FAILED', 'Request body too large for this route.');
    } else if ('code' in err && err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      error = new VidfleetError('VALIDATION_FAILED', 'Request body is empty; send a JSON object.');
    } else if ('statusCode' in err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      error = new VidfleetError('VALIDATION_FAILED', err.message);
    } else {
      request.log.error({ err }, 'unhandled error');
      error = new VidfleetError('INTERNAL', 'Internal error; see the coordinator log.');
    }
    if (error.status >= 500 && err instanceof VidfleetError) request.log.error({ err }, error.message);
    // An upload refused part-way leaves unread bytes on the socket: close it after this answer
    // rather than let the next request on the connection be parsed out of them.
    if (!request.raw.complete) void reply.header('connection', 'close');
    const retryAfter = error.details?.retryAfterSeconds;
    if (error.status === 429 && typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
    void reply.status(error.status).send(error.toBody());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new VidfleetError('ROUTE_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`);
    void reply.status(404).send(error.toBody());
  });
}

/**
 * Aborts when the client has gone away or the coordinator is shutting down, so long polls
 * stop waiting for nobody.
 */
export function longPollSignal(reply: { raw: NodeJS.EventEmitter & { writableFinished: boolean } }, shutdown: AbortSignal): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return AbortSignal.any([controller.signal, shutdown]);
}
