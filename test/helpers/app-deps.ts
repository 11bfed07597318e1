// A coordinator's parts without the server around them (no port, no janitor): for tests that
// drive buildCoordinatorApp with inject, or need to hook it before its routes are declared.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCoordinatorConfig, type CoordinatorOptions } from '../../src/coordinator/config.js';
import type { CoordinatorDeps } from '../../src/coordinator/deps.js';
import { openStore } from '../../src/coordinator/open-store.js';
import { Wakeup } from '../../src/coordinator/wakeup.js';
import { Authenticator } from '../../src/coordinator/auth/verify.js';
import { loadMasterKey } from '../../src/coordinator/auth/master-key.js';
import { LocalBlobStore } from '../../src/storage/local.js';

export async function testDeps(dir: string, options: CoordinatorOptions = {}): Promise<{ deps: CoordinatorDeps; shutdown: AbortController }> {
  const config = parseCoordinatorConfig({ dataDir: dir, logLevel: 'silent', ...options });
  await mkdir(config.storeDir, { recursive: true });
  const shutdown = new AbortController();
  const store = await openStore(config);
  const deps: CoordinatorDeps = {
    config,
    store,
    blobs: new LocalBlobStore(join(config.storeDir)),
    tasksReady: new Wakeup(),
    jobsChanged: new Wakeup(),
    logsAppended: new Wakeup(),
    eventsAppended: new Wakeup(),
    auth: new Authenticator(store, await loadMasterKey(join(dir, 'master.key'), undefined), { alwaysRequired: false }),
    shutdown: shutdown.signal,
  };
  return { deps, shutdown };
}
