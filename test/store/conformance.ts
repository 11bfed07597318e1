// The Store conformance suite: every rule of src/store/store.ts, run against each dialect.
// A dialect's test file calls runStoreConformance with a factory; the factory receives the
// suite's clock (so leases, deadlines, grace periods and retention expire without sleeping) and,
// for race tests, a store whose database the new one must share (another connection to the same
// file / schema). Every state is reached through the Store interface and the clock alone; the
// optional hooks only let a test count rows the interface cannot show.
//
// The groups live in ./conformance/*.ts; this file only assembles them.
import { describe } from 'vitest';
import { ackTests } from './conformance/acks.js';
import { feedTests } from './conformance/feed.js';
import { keyTests } from './conformance/keys.js';
import { graphTests } from './conformance/graphs.js';
import { logTests } from './conformance/logs.js';
import { cancelTests } from './conformance/cancel.js';
import { claimingTests } from './conformance/claiming.js';
import { countTests } from './conformance/counts.js';
import { createHarness, type ConformanceHooks, type MakeStore } from './conformance/harness.js';
import { idempotencyTests, jobTests } from './conformance/jobs.js';
import { leaseTests, runDeadlineTests } from './conformance/leases.js';
import { artifactEventTests, lifecycleTests } from './conformance/lifecycle.js';
import { retentionTests } from './conformance/retention.js';
import { workerTests } from './conformance/workers.js';

export type { ConformanceHooks, ConformanceTable, MakeStore, MakeStoreOptions } from './conformance/harness.js';

export function runStoreConformance(name: string, makeStore: MakeStore, hooks: ConformanceHooks = {}): void {
  describe(`Store conformance: ${name}`, () => {
    const h = createHarness(makeStore, hooks);
    jobTests(h);
    idempotencyTests(h);
    workerTests(h);
    claimingTests(h);
    leaseTests(h);
    runDeadlineTests(h);
    lifecycleTests(h);
    ackTests(h);
    graphTests(h);
    logTests(h);
    cancelTests(h);
    artifactEventTests(h);
    retentionTests(h);
    feedTests(h);
    keyTests(h);
    countTests(h);
  });
}
