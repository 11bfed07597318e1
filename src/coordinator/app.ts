// Builds the coordinator's HTTP app from its parts. No listening, no timers: see server.ts.
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { CoordinatorDeps } from './deps.js';
import { installErrorHandlers } from './http-errors.js';
import { installAuthentication } from './auth/verify.js';
import { installAuthorization } from './auth/policy.js';
import { installSignedJsonParser } from './auth/json-body.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerEventRoutes } from './routes/events.js';
import { metricsOf } from './metrics.js';
import { installHttpMetrics, registerMetricsRoute } from './metrics-http.js';
import { registerFileRoutes } from './routes/files.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { registerWorkerRoutes } from './routes/workers.js';

export function buildCoordinatorApp(deps: CoordinatorDeps): FastifyInstance {
  const app = Fastify({
    logger: deps.config.logLevel === 'silent' ? false : { level: deps.config.logLevel },
    bodyLimit: 4 * 1024 * 1024,
    // Keep unknown fields as errors (additionalProperties: false), not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    // server.ts lets in-flight requests finish first; then every socket, idle or not, goes.
    forceCloseConnections: true,
  });
  installErrorHandlers(app);
  installAuthentication(app, deps.auth);
  installAuthorization(app, deps.store);
  installSignedJsonParser(app);
  const metrics = metricsOf(deps);
  installHttpMetrics(app, metrics);
  // The OpenAPI document is generated from the schemas the routes validate with, so it cannot
  // drift from them. @fastify/swagger collects routes with an onRoute hook, which must exist
  // before they are declared: it is registered first, and the routes in a plugin after it
  // (plugins load in order), which keeps this function synchronous.
  void app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'vidfleet coordinator', version: 'v1', description: 'Jobs, workers and artifacts of a vidfleet fleet; see docs/api.md.' },
    },
  });
  void app.register(async (routes) => {
    registerHealthRoutes(routes, deps);
    registerMetricsRoute(routes, metrics);
    registerJobRoutes(routes, deps);
    registerFileRoutes(routes, deps);
    registerWorkerRoutes(routes, deps);
    registerTaskRoutes(routes, deps);
    registerEventRoutes(routes, deps);
    registerDashboardRoutes(routes);
    routes.get('/openapi.json', { schema: { summary: 'This OpenAPI 3.1 document.' } }, async () => app.swagger());
  });
  return app;
}
