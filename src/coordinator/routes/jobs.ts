// Client routes for jobs: submit, list, get (optionally waiting for the end), logs, kinds.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  GetJobQuery, JobLogsQuery, KINDS, ListJobsQuery, SubmitJobBody, SubmitJobsBody, VidfleetError, isTerminalJobStatus, type Job, type JobLogsResponse,
  type SubmitJobOutcome, type SubmitJobsResponse,
} from '../../protocol/index.js';
import type { CoordinatorDeps } from '../deps.js';
import { longPollSignal } from '../http-errors.js';
import { submitJob, type Submitter } from '../submit.js';
import { ownerScope, principalOf } from '../auth/principal.js';
import { withWaitingReason } from '../waiting.js';

const JobIdParams = Type.Object({ id: Type.String() });

function submitterOf(request: FastifyRequest): Submitter {
  const p = principalOf(request);
  return { owner: p.keyId, limited: p.role === 'client' };
}

export function registerJobRoutes(app: FastifyInstance, deps: CoordinatorDeps): void {
  const { store, jobsChanged, logsAppended } = deps;

  app.post('/v1/jobs', { schema: { body: SubmitJobBody } }, async (request, reply) => {
    const key = request.headers['idempotency-key'];
    const { job, created } = await submitJob(deps, request.body as SubmitJobBody, Array.isArray(key) ? key[0] : key, submitterOf(request));
    // 200 tells a retrying client it got the job its first request created.
    return reply.status(created ? 201 : 200).send(await withWaitingReason(store, job));
  });

  // Many jobs in one request: each is validated and created as a single submit would be, and
  // answers for itself (one bad job does not fail the others). On SQLite they share one commit.
  app.post('/v1/job-batches', { schema: { body: SubmitJobsBody } }, async (request) => {
    const { jobs } = request.body as SubmitJobsBody;
    const results = await Promise.all(
      jobs.map(async ({ job: body, idempotencyKey }): Promise<SubmitJobOutcome> => {
        try {
          const { job, created } = await submitJob(deps, body, idempotencyKey, submitterOf(request));
          return { status: created ? 201 : 200, job: await withWaitingReason(store, job) };
        } catch (err) {
          if (!(err instanceof VidfleetError) || err.status >= 500) request.log.error({ err }, 'batch submit: a job failed');
          // As the error handler does for a single submit: an unexpected error's text stays in the log.
          const error = err instanceof VidfleetError ? err : new VidfleetError('INTERNAL', 'Internal error; see the coordinator log.');
          return { status: error.status, error: error.toBody() };
        }
      }),
    );
    const response: SubmitJobsResponse = { results };
    return response;
  });

  app.post('/v1/jobs/:id/cancel', { schema: { params: JobIdParams } }, async (request) => {
    const { id } = request.params as { id: string };
    const before = await store.getJob(id);
    if (!before) throw new VidfleetError('JOB_NOT_FOUND', `No job ${id}.`);
    if (before.status === 'completed' || before.status === 'failed') {
      throw new VidfleetError('JOB_FINISHED', `Job ${id} already ended (${before.status}); there is nothing to cancel.`);
    }
    const job = await store.cancelJob(id, deps.config.cancelGraceMs);
    jobsChanged.notify();
    return job;
  });

  app.get('/v1/jobs', { schema: { querystring: ListJobsQuery } }, async (request) => {
    const q = request.query as ListJobsQuery;
    const owner = ownerScope(request);
    return store.listJobs({ status: q.status, kind: q.kind, limit: q.limit ?? 50, cursor: q.cursor, ...(owner !== undefined && { owner }) });
  });

  app.get('/v1/jobs/:id', { schema: { params: JobIdParams, querystring: GetJobQuery } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const { wait = 0 } = request.query as { wait?: number };
    const deadline = Date.now() + wait * 1000;
    const gone = longPollSignal(reply, deps.shutdown);
    let job: Job | null = await store.getJob(id, { withTasks: true });
    if (!job) throw new VidfleetError('JOB_NOT_FOUND', `No job ${id}.`);
    while (!isTerminalJobStatus(job.status) && Date.now() < deadline && !gone.aborted) {
      // The 1 s cap is the safety net should a wake-up ever be missed.
      await jobsChanged.wait(Math.min(1000, deadline - Date.now()), gone);
      job = (await store.getJob(id, { withTasks: true })) ?? job;
    }
    return withWaitingReason(store, job);
  });

  app.get('/v1/jobs/:id/logs', { schema: { params: JobIdParams, querystring: JobLogsQuery } }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const { after = 0, task, limit = 1000, wait = 0 } = request.query as JobLogsQuery;
    let job = await store.getJob(id);
    if (!job) throw new VidfleetError('JOB_NOT_FOUND', `No job ${id}.`);
    const deadline = Date.now() + wait * 1000;
    const gone = longPollSignal(reply, deps.shutdown);
    const read = () => store.listTaskLogs(id, { afterId: after, limit, ...(task !== undefined && { taskId: task }) });
    let lines = await read();
    // Follow mode: wait for lines while the job can still produce them.
    while (lines.length === 0 && !isTerminalJobStatus(job.status) && Date.now() < deadline && !gone.aborted) {
      await logsAppended.wait(Math.min(1000, deadline - Date.now()), gone);
      lines = await read();
      job = (await store.getJob(id)) ?? job;
    }
    const response: JobLogsResponse = { lines, next: lines.at(-1)?.id ?? after };
    return response;
  });

  app.get('/v1/kinds', async () => ({
    kinds: Object.values(KINDS).map((k) => ({ name: k.name, description: k.description, params: k.params, maxAttempts: k.maxAttempts })),
  }));
}
