// Probes for orchestrators and load balancers. /healthz: the process is up and serving HTTP
// (restart it if not). /readyz: it can do its work, i.e. its database answers and it is not
// shutting down (send it no traffic if not; it needs no restart).
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { CoordinatorDeps } from '../deps.js';

/**
 * How long the database gets to answer a trivial read. PostgreSQL answers one in well under a
 * millisecond on a LAN and a new connection takes a few; the pool would wait 15 s for a
 * connection to an unreachable server, far past any probe's patience. Below Kubernetes' default
 * probe timeout (1 s), so the coordinator's own 503 and its reason arrive before the probe gives up.
 */
export const READY_TIMEOUT_MS = 800;

const Healthz = Type.Object({ ok: Type.Literal(true) });
const Ready = Type.Object({ ready: Type.Literal(true) });
const NotReady = Type.Object({
  ready: Type.Literal(false),
  reason: Type.Union([Type.Literal('shutting_down'), Type.Literal('database_unavailable')]),
  message: Type.String(),
});
type NotReady = typeof NotReady.static;

class Timeout extends Error {}

export function registerHealthRoutes(app: FastifyInstance, deps: CoordinatorDeps): void {
  const { store, shutdown } = deps;

  app.get('/healthz', { schema: { summary: 'Liveness: the process serves HTTP.', response: { 200: Healthz } } }, async () => ({ ok: true as const }));

  // Probes from several load balancers share one check in flight: with the database hanging,
  // each would otherwise leave a read queued in the pool for the pool's whole connect timeout.
  let inFlight: Promise<NotReady | null> | null = null;
  const checkDatabase = async (): Promise<NotReady | null> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Timeout()), READY_TIMEOUT_MS);
    });
    try {
      // A primary-key read of a job that does not exist: a round trip that also proves the
      // schema is there, at the cost of one index probe.
      await Promise.race([store.getJob('job_readyz'), timeout]);
      return null;
    } catch (err) {
      const message = err instanceof Timeout ? `The database did not answer within ${READY_TIMEOUT_MS} ms.` : `The database refused a read: ${(err as Error).message}`;
      return { ready: false, reason: 'database_unavailable', message };
    } finally {
      clearTimeout(timer);
    }
  };

  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: the database answers and the coordinator is not shutting down.', response: { 200: Ready, 503: NotReady } } },
    async (_request, reply) => {
      if (shutdown.aborted) {
        const body: NotReady = { ready: false, reason: 'shutting_down', message: 'The coordinator is shutting down.' };
        return reply.status(503).send(body);
      }
      inFlight ??= checkDatabase().finally(() => {
        inFlight = null;
      });
      const problem = await inFlight;
      if (problem) return reply.status(503).send(problem);
      return { ready: true as const };
    },
  );
}
