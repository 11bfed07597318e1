// /healthz and /readyz. Readiness follows the database: a coordinator on PostgreSQL reached
// through a loopback TCP proxy is ready, then not (the server gone: connections refused; then a
// network that swallows packets: no answer within the timeout), then ready again once the
// database is back; and not ready while shutting down.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildCoordinatorApp } from '../../src/coordinator/app.js';
import { READY_TIMEOUT_MS } from '../../src/coordinator/routes/health.js';
import { startCoordinator, type RunningCoordinator } from '../../src/coordinator/server.js';
import { testDeps } from '../helpers/app-deps.js';
import { pgAvailable, PgTestSchemas } from '../helpers/postgres.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const probe = await pgAvailable();
if (!probe.url) process.stderr.write(`\n[health.test] PostgreSQL readiness SKIPPED: no server answered (${probe.reason})\n\n`);
const schemas = probe.url ? new PgTestSchemas(probe.url) : undefined;

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vidfleet-health-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await schemas?.dropAll();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function get(url: string): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, ms: performance.now() - started };
}

describe('health probes on SQLite', () => {
  it('are 200 while serving and /readyz turns 503 shutting_down once shutdown begins; /healthz stays 200', async () => {
    const { deps, shutdown } = await testDeps(await tempDir());
    const app = buildCoordinatorApp(deps);
    try {
      expect((await app.inject('/healthz')).json()).toEqual({ ok: true });
      const ready = await app.inject('/readyz');
      expect([ready.statusCode, ready.json()]).toEqual([200, { ready: true }]);
      shutdown.abort();
      const leaving = await app.inject('/readyz');
      expect([leaving.statusCode, leaving.json()]).toEqual([503, { ready: false, reason: 'shutting_down', message: 'The coordinator is shutting down.' }]);
      expect((await app.inject('/healthz')).statusCode).toBe(200);
    } finally {
      await app.close();
      await deps.store.close();
    }
  });
});

describe.skipIf(!probe.url)('/readyz on PostgreSQL', () => {
  let proxy: TcpProxy;
  let coordinator: RunningCoordinator | undefined;
  beforeAll(async () => {
    const target = new URL(probe.url!);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.open();
  });
  afterEach(async () => {
    await coordinator?.close();
    coordinator = undefined;
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('is 503 database_unavailable while the database is gone or silent, and 200 again once it is back', async () => {
    const db = new URL(probe.url!);
    db.hostname = '127.0.0.1';
    db.port = String(proxy.port);
    coordinator = await startCoordinator({ port: 0, dataDir: await tempDir(), db: db.href, dbSchema: schemas!.next(), logLevel: 'silent', shutdownGraceMs: 200 });
    const readyz = `${coordinator.url}/readyz`;
    expect(await get(readyz)).toMatchObject({ status: 200, body: { ready: true } });

    // The server goes away: its connections are cut and new ones refused.
    await proxy.close();
    const gone = await get(readyz);
    expect(gone).toMatchObject({ status: 503, body: { ready: false, reason: 'database_unavailable' } });
    expect(gone.body.message).toMatch(/^The database refused a read: /);
    expect((await fetch(`${coordinator.url}/healthz`)).status).toBe(200); // alive all the same

    // The network swallows packets: connections open and nothing ever answers.
    await proxy.open('blackhole');
    const silent = await get(readyz);
    expect(silent).toMatchObject({ status: 503, body: { ready: false, reason: 'database_unavailable', message: `The database did not answer within ${READY_TIMEOUT_MS} ms.` } });
    expect(silent.ms).toBeLessThan(READY_TIMEOUT_MS + 2000);

    // Back: the swallowed connections are cut (as a recovering network's timeouts would) and
    // new ones reach the server; the pool reconnects on its own.
    await proxy.close();
    await proxy.open('forward');
    const deadline = Date.now() + 15_000;
    let back = await get(readyz);
    while (back.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      back = await get(readyz);
    }
    expect(back).toMatchObject({ status: 200, body: { ready: true } });
    // And it does its work again: a job can be submitted and read.
    const submitted = await fetch(`${coordinator.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'noop', input: 'none' }) });
    expect(submitted.status).toBe(201);
  });
});
