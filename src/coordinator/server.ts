// A running coordinator: store + blob store (local directory or S3) + HTTP app + janitor,
// listening on host:port.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { BlobStore } from '../storage/blob-store.js';
import type { Store } from '../store/store.js';
import { buildCoordinatorApp } from './app.js';
import { parseCoordinatorConfig, type CoordinatorConfig, type CoordinatorOptions } from './config.js';
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
  const shutdown = new AbortController();
  const deps: CoordinatorDeps = {
    config,
    store,
    blobs,
    tasksReady: new Wakeup(),
    jobsChanged: new Wakeup(),
    logsAppended: new Wakeup(),
    shutdown: shutdown.signal,
  };
  // A submit, or a completion that releases a graph's next tasks, wakes as many waiting claims
  // of those kinds as there are new tasks.
  store.onTasksReady((ready) => {
    for (const [kind, count] of ready) deps.tasksReady.notify({ kind, count });
  });
  const app = buildCoordinatorApp(deps);
  const inFlight = new Set<unknown>();
  app.server.on('request', (_req, res: import('node:http').ServerResponse) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  const janitor = startJanitor(deps, app.log);
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await janitor.stop();
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
