// Every route of the OpenAPI document, walked: once the deployment has keys, each answers an
// unsigned request with 401 AUTH_REQUIRED — except the few open on purpose (probes, scrapers,
// the dashboard's static files) — and each has an entry in the role table (policy.ts), so no
// route is left to the admin-only default by accident.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_ROUTES } from '../../src/coordinator/auth/verify.js';
import { ROUTE_ROLES } from '../../src/coordinator/auth/policy.js';
import { createKey } from '../../src/coordinator/auth/keys.js';
import { loadMasterKey } from '../../src/coordinator/auth/master-key.js';
import { join } from 'node:path';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';

let fleet: TestFleet;
let doc: { paths: Record<string, Record<string, unknown>> };

beforeAll(async () => {
  fleet = await startTestFleet();
  doc = (await (await fetch(`${fleet.coordinator.url}/openapi.json`)).json()) as typeof doc;
  const masterKey = await loadMasterKey(join(fleet.coordinator.config.dataDir, 'master.key'), undefined);
  await createKey(fleet.coordinator.store, masterKey, 'admin', 'ops');
  // The coordinator notices the first key within its 2 s cache.
  const deadline = Date.now() + 5_000;
  while ((await fetch(`${fleet.coordinator.url}/v1/kinds`)).status !== 401 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
});

afterAll(async () => {
  await fleet?.stop();
});

/** OpenAPI path → Fastify route pattern: {id} → :id, {*} → *. */
const routeOf = (path: string): string => path.replace(/\{\*\}/g, '*').replace(/\{(\w+)\}/g, ':$1');
/** A concrete URL for a path, with made-up parameters. */
const urlOf = (path: string): string => path.replace(/\{\*\}/g, 'x/y.bin').replace(/\{(\w+)\}/g, (_, name: string) => (name === 'attempt' ? '1' : `${name}_x`));

describe('every route is checked for auth', () => {
  it('the document lists the routes', () => {
    expect(Object.keys(doc.paths).length).toBeGreaterThan(25);
  });

  it('answers each unsigned request with 401 AUTH_REQUIRED, but the open routes', async () => {
    const checked: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const route = routeOf(path);
        const res = await fetch(`${fleet.coordinator.url}${urlOf(path)}`, {
          method: method.toUpperCase(),
          ...(method !== 'get' && method !== 'delete' && { headers: { 'content-type': 'application/json' }, body: '{}' }),
        });
        const body = await res.text();
        if (OPEN_ROUTES.has(route)) expect(res.status, `${method} ${path}: ${body.slice(0, 200)}`).not.toBe(401);
        else {
          expect(res.status, `${method} ${path}: ${body.slice(0, 200)}`).toBe(401);
          expect(JSON.parse(body) as { code: string }).toMatchObject({ code: 'AUTH_REQUIRED' });
        }
        checked.push(`${method.toUpperCase()} ${route}`);
      }
    }
    expect(checked.length).toBeGreaterThan(25);
  });

  it('gives every signed route a role entry', () => {
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const route = routeOf(path);
        if (!OPEN_ROUTES.has(route) && !(`${method.toUpperCase()} ${route}` in ROUTE_ROLES)) missing.push(`${method.toUpperCase()} ${route}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
