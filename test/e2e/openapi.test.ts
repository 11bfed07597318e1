// GET /openapi.json: an OpenAPI 3.1 document generated from the routes' own schemas, valid by
// the OpenAPI 3.1 JSON schema, listing exactly the routes the app serves (each with its method).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCoordinatorApp } from '../../src/coordinator/app.js';
import type { CoordinatorDeps } from '../../src/coordinator/deps.js';
import { testDeps } from '../helpers/app-deps.js';

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, { requestBody?: unknown; parameters?: { in: string; name: string }[]; responses?: Record<string, unknown> }>>;
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace']);
/** Fastify's /v1/jobs/:id/artifacts/* as @fastify/swagger writes it: /v1/jobs/{id}/artifacts/{*}. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{*}');

describe('GET /openapi.json', () => {
  let dir: string;
  let deps: CoordinatorDeps;
  let app: FastifyInstance;
  const declared: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidfleet-openapi-'));
    ({ deps } = await testDeps(dir));
    app = buildCoordinatorApp(deps);
    // The routes are declared when the app loads its plugins, so a hook added now sees them all.
    app.addHook('onRoute', (route) => {
      // Fastify adds a HEAD route for every GET by itself; OpenAPI documents the GET.
      for (const method of [route.method].flat()) if (method !== 'HEAD') declared.push(`${method} ${openApiPath(route.url)}`);
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await deps?.store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const response = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const doc = response.json<OpenApiDoc>();
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    expect(Validator.supportedVersions.has('3.1')).toBe(true);
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route the app serves, with its method, and nothing else', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDoc>();
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => METHODS.has(m)).map((m) => `${m.toUpperCase()} ${path}`));
    expect(declared.length).toBeGreaterThan(20);
    expect(documented.sort()).toEqual([...declared].sort());
    for (const probe of ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json', 'POST /v1/jobs', 'POST /v1/workers/{workerId}/claim']) expect(documented).toContain(probe);
  });

  it('describes requests from the same TypeBox schemas the routes validate with', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<OpenApiDoc>();
    const submit = doc.paths['/v1/jobs']?.post;
    expect(submit?.requestBody).toMatchObject({ content: { 'application/json': { schema: { type: 'object', required: expect.arrayContaining(['kind', 'input']) } } } });
    expect(doc.paths['/v1/jobs/{id}']?.get?.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'path', name: 'id' }), expect.objectContaining({ in: 'query', name: 'wait' })]));
    expect(doc.paths['/readyz']?.get?.responses).toMatchObject({ 200: {}, 503: {} });
  });
});
