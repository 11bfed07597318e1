// Worker writes about one attempt of one task. Every route names (worker, task, attempt); the
// store refuses (409 STALE_ATTEMPT) any write for an attempt that is no longer current.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  ARTIFACT_SHA256_HEADER, ArtifactSchema, CompleteBody, FailBody, FailResponse, OkResponse, ProgressBody, ProgressResponse, TaskLogsBody, VidfleetError,
  isSafeStoreKey, progressDetailOf, type ErrorBody,
} from '../../protocol/index.js';
import type { AttemptRef } from '../../store/store.js';
import type { CoordinatorDeps } from '../deps.js';
import { principalOf } from '../auth/principal.js';
import { retryDelayMs } from '../config.js';
import { metricsOf, type AttemptOutcome } from '../metrics.js';
import { acceptRawBodies, rawBody } from '../raw-body.js';

const TaskParams = Type.Object({ workerId: Type.String(), taskId: Type.String() });
const ENDED_AS: Record<FailResponse['status'], AttemptOutcome> = { pending: 'retried', failed: 'failed', canceled: 'canceled' };
const ArtifactParams = Type.Object({ workerId: Type.String(), taskId: Type.String(), attempt: Type.Integer({ minimum: 1 }), '*': Type.String() });

export function registerTaskRoutes(app: FastifyInstance, deps: CoordinatorDeps): void {
  const { store, blobs, config, tasksReady, jobsChanged, logsAppended } = deps;
  const metrics = metricsOf(deps);
  const base = '/v1/workers/:workerId/tasks/:taskId';

  app.post(`${base}/progress`, { schema: { params: TaskParams, body: ProgressBody, response: { 200: ProgressResponse } } }, async (request) => {
    const { workerId, taskId } = request.params as { workerId: string; taskId: string };
    const body = request.body as ProgressBody;
    const detail = progressDetailOf(body);
    const state = await store.reportProgress({ workerId, taskId, attempt: body.attempt }, body.progress, {
      ...(body.resumeData !== undefined && { resumeData: body.resumeData }),
      ...(detail && { detail }),
    });
    const response: ProgressResponse = { state };
    return response;
  });

  app.post(`${base}/logs`, { schema: { params: TaskParams, body: TaskLogsBody, response: { 200: OkResponse } } }, async (request) => {
    const { workerId, taskId } = request.params as { workerId: string; taskId: string };
    const body = request.body as TaskLogsBody;
    await store.appendTaskLogs({ workerId, taskId, attempt: body.attempt }, body.lines);
    logsAppended.notify();
    return { ok: true };
  });

  app.post(`${base}/complete`, { schema: { params: TaskParams, body: CompleteBody, response: { 200: OkResponse } } }, async (request) => {
    const { workerId, taskId } = request.params as { workerId: string; taskId: string };
    const body = request.body as CompleteBody;
    await store.completeTask({ workerId, taskId, attempt: body.attempt }, body.result ?? null);
    metrics.attemptEnded(taskId, body.attempt, 'completed');
    jobsChanged.notify();
    return { ok: true };
  });

  app.post(`${base}/fail`, { schema: { params: TaskParams, body: FailBody, response: { 200: FailResponse } } }, async (request) => {
    const { workerId, taskId } = request.params as { workerId: string; taskId: string };
    const body = request.body as FailBody;
    const handedBack = body.error.code === 'WORKER_SHUTDOWN';
    const status = await store.failTask({ workerId, taskId, attempt: body.attempt }, body.error as ErrorBody, {
      resumeData: body.resumeData,
      // A task handed back by a draining worker did not fail: another worker may take it now.
      retryDelayMs: handedBack ? 0 : retryDelayMs(config, body.attempt),
    });
    metrics.attemptEnded(taskId, body.attempt, ENDED_AS[status]);
    if (status === 'pending') {
      metrics.taskRetried(handedBack ? 'handed_back' : 'error');
      tasksReady.notify();
    }
    jobsChanged.notify();
    const response: FailResponse = { status };
    return response;
  });

  void app.register(async (scope) => {
    acceptRawBodies(scope);
    scope.put(`${base}/attempts/:attempt/artifacts/*`, { schema: { params: ArtifactParams, response: { 201: ArtifactSchema } } }, async (request, reply) => {
      const p = request.params as { workerId: string; taskId: string; attempt: number; '*': string };
      const name = p['*'];
      if (!isSafeStoreKey(name)) throw new VidfleetError('VALIDATION_FAILED', `Artifact name "${name}" must be a relative path without "..".`);
      const ref: AttemptRef = { workerId: p.workerId, taskId: p.taskId, attempt: p.attempt };
      // Refuse a stale attempt before reading a byte of its upload.
      const { jobId } = await store.assertAttempt(ref);
      // Each attempt writes under its own key: a presumed-dead worker finishing late can never
      // overwrite the bytes the current attempt recorded.
      const key = `jobs/${jobId}/a${p.attempt}/${name}`;
      const stated = request.headers[ARTIFACT_SHA256_HEADER];
      const signed = principalOf(request).contentSha256;
      if (typeof stated === 'string' && signed && stated.toLowerCase() !== signed) {
        throw new VidfleetError('VALIDATION_FAILED', `${ARTIFACT_SHA256_HEADER} (${stated}) and the signed body digest (${signed}) differ.`);
      }
      const expectedSha256 = signed ?? (typeof stated === 'string' ? stated : undefined);
      const stored = await blobs.put(key, rawBody(request), { maxBytes: config.maxUploadBytes, ...(expectedSha256 && { expectedSha256 }) });
      const previous = await store.getArtifact(jobId, name);
      try {
        const artifact = await store.recordArtifact(ref, {
          name,
          key,
          size: stored.size,
          sha256: stored.sha256,
          contentType: request.headers['content-type'] ?? 'application/octet-stream',
        });
        metrics.bytesUploaded('artifact', stored.size);
        if (previous && previous.key !== key) await blobs.delete(previous.key);
        return reply.status(201).send(artifact);
      } catch (err) {
        await blobs.delete(key);
        throw err;
      }
    });
  });
}
