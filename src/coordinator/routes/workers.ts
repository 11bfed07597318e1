// Worker routes: register, heartbeat, claim (long poll).
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import {
  AckBody, AckResponse, ClaimBody, ClaimResponse, HeartbeatBody, HeartbeatResponse, RegisterWorkerBody, RegisterWorkerResponse, VidfleetError, workerCapabilityTokens,
  type AckState,
} from '../../protocol/index.js';
import type { CoordinatorDeps } from '../deps.js';
import { longPollSignal } from '../http-errors.js';
import { principalOf } from '../auth/principal.js';
import { metricsOf } from '../metrics.js';

const WorkerIdParams = Type.Object({ workerId: Type.String() });
const PROFILE_CACHE_WORKERS = 1024;

export function registerWorkerRoutes(app: FastifyInstance, deps: CoordinatorDeps): void {
  const { store, config, tasksReady, jobsChanged } = deps;
  const metrics = metricsOf(deps);

  // What a claim needs of its worker — kinds and capability tokens — by worker id. Both are
  // fixed at registration (a re-registration gets a new id). Deriving ~750 tokens from a worker's
  // ffmpeg lists cost ~150 µs per claim (Debian's ffmpeg), and reading and parsing the worker row
  // another ~2% of the coordinator's CPU in bench/dispatch, so each is done once per worker. The
  // store's claim still refuses a worker that is not registered. Bounded.
  const claimProfiles = new Map<string, { kinds: string[]; capabilities: string[] }>();
  async function claimProfile(workerId: string): Promise<{ kinds: string[]; capabilities: string[] }> {
    let profile = claimProfiles.get(workerId);
    if (!profile) {
      const worker = await requireWorker(workerId);
      profile = { kinds: worker.capabilities.kinds, capabilities: workerCapabilityTokens(worker.capabilities) };
      claimProfiles.set(workerId, profile);
      if (claimProfiles.size > PROFILE_CACHE_WORKERS) claimProfiles.delete(claimProfiles.keys().next().value!);
    }
    return profile;
  }

  /** Applies a worker's batched reports; undefined when it sent none. */
  async function applyAcks(workerId: string, body: AckBody): Promise<AckState[] | undefined> {
    if (!body.started?.length && !body.completed?.length) return undefined;
    const acks = await store.acknowledge(workerId, { started: body.started, completed: body.completed });
    if (body.completed?.length) {
      jobsChanged.notify();
      // The answers list the started reports first, then the completions, in the order sent.
      const first = body.started?.length ?? 0;
      body.completed.forEach((c, i) => {
        if (acks[first + i]?.state === 'ok') metrics.attemptEnded(c.taskId, c.attempt, 'completed');
      });
    }
    return acks;
  }

  async function requireWorker(workerId: string) {
    const worker = await store.getWorker(workerId);
    if (!worker) throw new VidfleetError('WORKER_NOT_FOUND', `Worker ${workerId} is not registered (the coordinator may have been reset); register again.`);
    return worker;
  }

  // Response schemas (which Fastify serializes with) on these routes: measured on realistic
  // payloads, fast-json-stringify writes exactly the bytes JSON.stringify wrote, in less time
  // (claim 0.76 vs 1.24 µs, acks 0.22 vs 0.62, heartbeat 0.39 vs 0.96), and the OpenAPI
  // document gets the shapes workers rely on.
  app.post('/v1/workers', { schema: { body: RegisterWorkerBody, response: { 201: RegisterWorkerResponse } } }, async (request, reply) => {
    const worker = await store.registerWorker({ ...(request.body as RegisterWorkerBody), owner: principalOf(request).keyId });
    const response: RegisterWorkerResponse = { workerId: worker.id, leaseMs: config.leaseMs, heartbeatMs: config.heartbeatMs };
    return reply.status(201).send(response);
  });

  app.get('/v1/workers', async () => ({ workers: await store.listWorkers() }));

  app.delete('/v1/workers/:workerId', { schema: { params: WorkerIdParams } }, async (request, reply) => {
    const { workerId } = request.params as { workerId: string };
    await store.deregisterWorker(workerId); // WORKER_NOT_FOUND from the store for an unknown id
    return reply.status(204).send();
  });

  app.post('/v1/workers/:workerId/heartbeat', { schema: { params: WorkerIdParams, body: HeartbeatBody, response: { 200: HeartbeatResponse } } }, async (request) => {
    const { workerId } = request.params as { workerId: string };
    // The store answers WORKER_NOT_FOUND for an unknown worker: no separate read per heartbeat.
    const { tasks } = request.body as HeartbeatBody;
    const response: HeartbeatResponse = { tasks: await store.heartbeat(workerId, tasks, config.leaseMs) };
    return response;
  });

  app.post('/v1/workers/:workerId/acks', { schema: { params: WorkerIdParams, body: AckBody, response: { 200: AckResponse } } }, async (request) => {
    const { workerId } = request.params as { workerId: string };
    const response: AckResponse = { acks: (await applyAcks(workerId, request.body as AckBody)) ?? [] };
    return response;
  });

  app.post('/v1/workers/:workerId/claim', { schema: { params: WorkerIdParams, body: ClaimBody, response: { 200: ClaimResponse } } }, async (request, reply) => {
    const { workerId } = request.params as { workerId: string };
    const { kinds, capabilities } = await claimProfile(workerId);
    const body = request.body as ClaimBody;
    const { max, waitSeconds = 0 } = body;
    // Reports first, so the slots they free and the jobs they finish count before any wait.
    const acks = await applyAcks(workerId, body);
    const deadline = Date.now() + Math.min(waitSeconds, config.maxClaimWaitSeconds) * 1000;
    const gone = longPollSignal(reply, deps.shutdown);
    const accepts = (kind: string): boolean => kinds.includes(kind);
    for (;;) {
      const tasks = await store.claimTasks({ workerId, kinds, capabilities, max, leaseMs: config.leaseMs });
      const remaining = deadline - Date.now();
      // Reports a claim carries are applied before it waits (their jobs finish at once); their
      // answers travel back with whatever the claim gets.
      if (tasks.length > 0 || remaining <= 0 || gone.aborted) {
        metrics.tasksClaimed(tasks);
        const response: ClaimResponse = acks ? { tasks, acks } : { tasks };
        return response;
      }
      const due = await store.nextDueAt(kinds);
      // Retry backoffs come due without any wake-up, so sleep no longer than until the next one.
      const untilDue = due === null ? config.claimRecheckMs : Math.max(10, due - Date.now());
      await tasksReady.wait(Math.min(remaining, untilDue, config.claimRecheckMs), gone, accepts);
    }
  });
}
