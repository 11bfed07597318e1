// Client routes for jobs: submit, list, get (optionally waiting for the end), events, kinds.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  GetJobQuery, KINDS, ListJobsQuery, SubmitJobBody, VidfleetError, isTerminalJobStatus, parseInput, type Job,
} from '../../protocol/index.js';
import type { CoordinatorDeps } from '../deps.js';
import { validateKind, validateParams } from '../params.js';
import { longPollSignal } from '../http-errors.js';

const JobIdParams = Type.Object({ id: Type.String() });

export function registerJobRoutes(app: FastifyInstance, deps: CoordinatorDeps): void {
  const { store, blobs, tasksReady, jobsChanged } = deps;

  app.post('/v1/jobs', { schema: { body: SubmitJobBody } }, async (request, reply) => {
    const body = request.body as SubmitJobBody;
    const kind = validateKind(body.kind);
    const params = validateParams(kind, body.params);
    const input = KINDS[kind].readsInput ? parseInput(body.input) : null;
    if (input?.scheme === 'store' && !(await blobs.stat(input.key))) {
      throw new VidfleetError('INPUT_NOT_FOUND', `Nothing is stored at ${body.input}; upload the file first (POST /v1/uploads, or vidfleet submit with a local path).`);
    }
    const { job } = await store.createJob({
      kind,
      input: body.input,
      params,
      priority: body.priority ?? 0,
      tasks: [{ kind, input: body.input, params, maxAttempts: KINDS[kind].maxAttempts, maxRunMs: KINDS[kind].maxRunMs }],
    });
    tasksReady.notify();
    return reply.status(201).send(job);
  });

  app.get('/v1/jobs', { schema: { querystring: ListJobsQuery } }, async (request) => {
    const q = request.query as ListJobsQuery;
    return store.listJobs({ status: q.status, kind: q.kind, limit: q.limit ?? 50, cursor: q.cursor });
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
    return job;
  });

  app.get('/v1/jobs/:id/events', { schema: { params: JobIdParams } }, async (request) => {
    const { id } = request.params as { id: string };
    if (!(await store.getJob(id))) throw new VidfleetError('JOB_NOT_FOUND', `No job ${id}.`);
    return { events: await store.listEvents(id) };
  });

  app.get('/v1/kinds', async () => ({
    kinds: Object.values(KINDS).map((k) => ({ name: k.name, description: k.description, params: k.params, maxAttempts: k.maxAttempts })),
  }));

  app.get('/healthz', async () => ({ ok: true }));
}
