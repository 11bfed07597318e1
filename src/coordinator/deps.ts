// What route handlers share: the store, the blob store, config, and the long-poll wake-ups.
import type { BlobStore } from '../storage/blob-store.js';
import type { Store } from '../store/store.js';
import type { CoordinatorConfig } from './config.js';
import type { Wakeup } from './wakeup.js';
import type { Authenticator } from './auth/verify.js';

export interface CoordinatorDeps {
  config: CoordinatorConfig;
  store: Store;
  blobs: BlobStore;
  /** Woken when a task may have become claimable. */
  tasksReady: Wakeup;
  /** Woken when any job may have changed status. */
  jobsChanged: Wakeup;
  /** Woken when task log lines arrive (logs in follow mode). */
  logsAppended: Wakeup;
  /** Woken when events were appended to the feed (by this coordinator or, on PostgreSQL, any). */
  eventsAppended: Wakeup;
  /** Checks signed requests (a no-op while the deployment has no keys and listens on loopback). */
  auth: Authenticator;
  /** Aborted when the coordinator shuts down: long polls answer at once. */
  shutdown: AbortSignal;
}
