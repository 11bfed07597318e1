// Builds the coordinator's HTTP app from its parts. No listening, no timers: see server.ts.
import Fastify, { type FastifyInstance } from 'fastify';
import type { CoordinatorDeps } from './deps.js';
import { installErrorHandlers } from './http-errors.js';
import { installAuthentication } from './auth/verify.js';
import { installAuthorization } from './auth/policy.js';
import { installSignedJsonParser } from './auth/json-body.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerEventRoutes } from './routes/events.js';
import { registerFileRoutes } from './routes/files.js';
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
  registerJobRoutes(app, deps);
  registerFileRoutes(app, deps);
  registerWorkerRoutes(app, deps);
  registerTaskRoutes(app, deps);
  registerEventRoutes(app, deps);
  registerDashboardRoutes(app);
  return app;
}
