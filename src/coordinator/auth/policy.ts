// Authorization: which roles may call which route, and the ownership a route's parameters
// imply. Admins may do everything; clients act on their own jobs; workers on the workers they
// registered (and read the blobs and artifacts the tasks they run need). A route missing from
// the table is for admins only, so a new route is closed until someone opens it here.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VidfleetError, type KeyRole } from '../../protocol/index.js';
import type { Store } from '../../store/store.js';
import { OPEN_ROUTES } from './verify.js';
import { principalOf } from './principal.js';

const ALL: readonly KeyRole[] = ['admin', 'client', 'worker'];
const CLIENTS: readonly KeyRole[] = ['admin', 'client'];
const WORKERS: readonly KeyRole[] = ['admin', 'worker'];

export const ROUTE_ROLES: Readonly<Record<string, readonly KeyRole[]>> = {
  'POST /v1/jobs': CLIENTS,
  'POST /v1/job-batches': CLIENTS,
  'GET /v1/jobs': CLIENTS,
  'GET /v1/jobs/:id': CLIENTS,
  'POST /v1/jobs/:id/cancel': CLIENTS,
  'GET /v1/jobs/:id/logs': CLIENTS,
  'GET /v1/jobs/:id/events': CLIENTS,
  // A transcode's merge task reads the chunks its job's other tasks uploaded.
  'GET /v1/jobs/:id/artifacts': ALL,
  'GET /v1/jobs/:id/artifacts/*': ALL,
  'POST /v1/uploads': CLIENTS,
  'GET /v1/blobs/*': ALL,
  'POST /v1/blob-urls': ALL,
  'GET /v1/kinds': ALL,
  // The whole fleet's events: another client's jobs are in it.
  'GET /v1/events': ['admin'],
  'GET /v1/workers': CLIENTS,
  'POST /v1/workers': WORKERS,
  'DELETE /v1/workers/:workerId': WORKERS,
  'POST /v1/workers/:workerId/heartbeat': WORKERS,
  'POST /v1/workers/:workerId/acks': WORKERS,
  'POST /v1/workers/:workerId/claim': WORKERS,
  'POST /v1/workers/:workerId/tasks/:taskId/progress': WORKERS,
  'POST /v1/workers/:workerId/tasks/:taskId/logs': WORKERS,
  'POST /v1/workers/:workerId/tasks/:taskId/complete': WORKERS,
  'POST /v1/workers/:workerId/tasks/:taskId/fail': WORKERS,
  'PUT /v1/workers/:workerId/tasks/:taskId/attempts/:attempt/artifacts/*': WORKERS,
};

/** Worker owners never change: cached by worker id. */
const workerOwners = new Map<string, string | null>();

export function installAuthorization(app: FastifyInstance, store: Store): void {
  app.addHook('preHandler', async (request) => {
    const route = request.routeOptions.url;
    if (route === undefined || OPEN_ROUTES.has(route)) return;
    const p = principalOf(request);
    if (p.keyId === null) return; // no keys: loopback only, everything allowed
    if (p.keyId === 'blob-url') {
      if (route !== '/v1/blobs/*') throw new VidfleetError('FORBIDDEN', 'A blob URL reads its blob and nothing else.');
      return;
    }
    const roles = ROUTE_ROLES[`${request.method} ${route}`] ?? ['admin'];
    if (!roles.includes(p.role)) {
      throw new VidfleetError('FORBIDDEN', `A ${p.role} key may not call ${request.method} ${route} (allowed: ${roles.join(', ')}).`);
    }
    if (p.role === 'client') await checkJobOwner(request, store, p.keyId);
    if (p.role === 'worker') await checkWorkerOwner(request, store, p.keyId);
  });
}

/** A client's job routes answer JOB_NOT_FOUND for other owners' jobs: their existence is not told. */
async function checkJobOwner(request: FastifyRequest, store: Store, keyId: string): Promise<void> {
  const id = (request.params as { id?: string } | undefined)?.id;
  if (id === undefined || !request.routeOptions.url?.startsWith('/v1/jobs/')) return;
  const job = await store.getJob(id);
  if (job && job.owner !== keyId) throw new VidfleetError('JOB_NOT_FOUND', `No job ${id}.`);
}

async function checkWorkerOwner(request: FastifyRequest, store: Store, keyId: string): Promise<void> {
  const workerId = (request.params as { workerId?: string } | undefined)?.workerId;
  if (workerId === undefined) return;
  let owner = workerOwners.get(workerId);
  if (owner === undefined) {
    const worker = await store.getWorker(workerId);
    if (!worker) return; // the route answers WORKER_NOT_FOUND
    owner = worker.owner ?? null;
    workerOwners.set(workerId, owner);
    if (workerOwners.size > 10_000) workerOwners.delete(workerOwners.keys().next().value!);
  }
  if (owner !== keyId) throw new VidfleetError('FORBIDDEN', `Worker ${workerId} was registered with another key; a worker key acts only for its own workers.`);
}
