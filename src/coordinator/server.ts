// A running coordinator: store + blob store (local directory or S3) + HTTP app + janitor,
// listening on host:port.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../storage/blob-store.js';
import type { Store } from '../store/store.js';
import { MqttPublisher } from './mqtt-publisher.js';
import { Authenticator } from './auth/verify.js';
import { loadMasterKey } from './auth/master-key.js';
import { buildCoordinatorApp } from './app.js';
import { isLoopbackHost, parseCoordinatorConfig, type CoordinatorConfig, type CoordinatorOptions } from './config.js';
import type { CoordinatorDeps } from './deps.js';
import { startJanitor, type Janitor } from './janitor.js';
import { openBlobStore } from './open-blob-store.js';
import { openStore } from './open-store.js';
import { Wakeup } from './wakeup.js';

export interface RunningCoordinator {
  url: string;
  config: CoordinatorConfig;
  app: FastifyInstance;
  store: Store;
  blobs: BlobStore;
  janitor: Janitor;
  close(): Promise<void>;
}

export async function startCoordinator(options: CoordinatorOptions = {}): Promise<RunningCoordinator> {
  const config = parseCoordinatorConfig(options);
  await mkdir(config.dataDir, { recursive: true });
  // Storage first: it may be remote and refuse us, and then no database needs closing.
  const blobs = await openBlobStore(config);
  let store: Store;
  try {
    store = await openStore(config);
  } catch (err) {
    await blobs.close?.();
    throw err;
  }
  const masterKey = await loadMasterKey(join(config.dataDir, 'master.key'), config.masterKey ?? undefined);
  const loopback = isLoopbackHost(config.host);
  if (!loopback && (await store.countActiveApiKeys()) === 0) {
    await store.close();
    await blobs.close?.();
    throw new Error(
      `Refusing to listen on ${config.host} without keys: anyone who can reach it could run jobs. Create one with \`vidfleet keys create --role admin\` (same --data/--db), or listen on 127.0.0.1.`,
    );
  }
  const shutdown = new AbortController();
  const deps: CoordinatorDeps = {
    config,
    store,
    blobs,
    tasksReady: new Wakeup(),
    jobsChanged: new Wakeup(),
    logsAppended: new Wakeup(),
    eventsAppended: new Wakeup(),
    // Off loopback every request must be signed even while no key exists (all are refused then).
    auth: new Authenticator(store, masterKey, { alwaysRequired: !loopback }),
    shutdown: shutdown.signal,
  };
  // A submit, or a completion that releases a graph's next tasks, wakes as many waiting claims
  // of those kinds as there are new tasks.
  store.onTasksReady((ready) => {
    for (const [kind, count] of ready) deps.tasksReady.notify({ kind, count });
  });
  store.onEventsAppended(() => deps.eventsAppended.notify());
  const app = buildCoordinatorApp(deps);
  const inFlight = new Set<unknown>();
  app.server.on('request', (_req, res: import('node:http').ServerResponse) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  const janitor = startJanitor(deps, app.log);
  const mqtt = config.mqttUrl === null ? null : new MqttPublisher(store, deps.eventsAppended, { url: config.mqttUrl, prefix: config.mqttPrefix }, app.log);
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await janitor.stop();
    await mqtt?.stop();
    await store.close();
    await blobs.close?.();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`Port ${config.port} on ${config.host} is already in use; pick another with --port.`, { cause: err });
    }
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    config,
    app,
    store,
    blobs,
    janitor,
    async close() {
      // Long polls answer first; app.close() then waits for in-flight requests, so no handler
      // is still using the store when it closes.
      shutdown.abort();
      await janitor.stop();
      await mqtt?.stop();
      // In-flight requests (an upload, a completion) get the grace period to finish; then the
      // app closes every socket, since keep-alive clients would hold idle ones for seconds.
      const deadline = Date.now() + config.shutdownGraceMs;
      while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await app.close();
      await store.close();
      await blobs.close?.();
    },
  };
}
