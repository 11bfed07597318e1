// GET /metrics (Prometheus text format), and the hook that times every HTTP request.
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { CoordinatorMetrics } from './metrics.js';

/** The route label of a request that matched no route (a 404): one series, not one per URL. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Call on the root instance before the routes are registered, so the hook covers them all. */
export function installHttpMetrics(app: FastifyInstance, metrics: CoordinatorMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern (/v1/jobs/:id), never the URL: ids in labels would grow without bound.
    metrics.httpRequest(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
  });
}

export function registerMetricsRoute(app: FastifyInstance, metrics: CoordinatorMetrics): void {
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format 0.0.4); see docs/operations.md for each one.',
        response: { 200: { content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) => {
      const { contentType, text } = await metrics.exposition();
      return reply.type(contentType).send(text);
    },
  );
}
