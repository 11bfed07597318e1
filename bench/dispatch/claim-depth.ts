// bench/dispatch, part 2: how long one claim takes as the queue grows. Drives a Store directly
// (no HTTP): fills it with pending noop jobs through createJob, then times claimTasks at each
// depth, topping the queue back up after every claim (untimed) so the depth stays put.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { KINDS } from '../../src/protocol/index.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { NewJob, Store } from '../../src/store/store.js';
import { percentile } from './common.js';
import { dropSchema } from './systems.js';

/** The Store methods this measurement calls (so it runs against any store that has them). */
type ClaimStore = Pick<Store, 'createJob' | 'registerWorker' | 'claimTasks' | 'close'>;

export interface DepthRow {
  depth: number;
  /** Jobs created per second while filling up to this depth. */
  fillRate: number;
  one: { p50: number; p99: number; n: number };
  batch: { p50: number; p99: number; n: number; size: number };
}

export interface DepthReport {
  store: string;
  rows: DepthRow[];
  skipped: string[];
  note: string;
}

const NOOP_JOB: NewJob = {
  kind: 'noop',
  input: 'none',
  params: {},
  priority: 0,
  tasks: [{ kind: 'noop', input: 'none', params: {}, maxAttempts: KINDS.noop.maxAttempts, maxRunMs: KINDS.noop.maxRunMs }],
};

export interface DepthOptions {
  depths: number[];
  samples: number;
  batchSize: number;
  /** Filling stops (and deeper depths are skipped) once the next depth would not be reached in time. */
  budgetMs: number;
  /** Jobs created at once (a pooled store gains from it; SQLite runs them one by one anyway). */
  fillConcurrency: number;
  log: (line: string) => void;
}

async function measureStore(name: string, store: ClaimStore, options: DepthOptions): Promise<DepthReport> {
  const { log } = options;
  const worker = await store.registerWorker({
    name: 'bench-claim',
    hostname: hostname(),
    capabilities: { kinds: ['noop'], concurrency: options.batchSize, ffmpegVersion: 'none', encoders: [], hwaccels: [] },
  });
  const started = performance.now();
  const rows: DepthRow[] = [];
  const skipped: string[] = [];
  let queued = 0;
  let fillRate = 0;
  const fill = async (n: number): Promise<void> => {
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(options.fillConcurrency, n) }, async () => {
        while (next < n) {
          next++;
          await store.createJob(NOOP_JOB);
        }
      }),
    );
  };
  const timeClaims = async (max: number): Promise<number[]> => {
    const samples: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      const t0 = performance.now();
      const claimed = await store.claimTasks({ workerId: worker.id, kinds: ['noop'], max, leaseMs: 60_000 });
      samples.push(performance.now() - t0);
      if (claimed.length !== max) throw new Error(`${name}: claim of ${max} at depth ${queued} returned ${claimed.length}`);
      await fill(claimed.length); // keep the depth where it is
    }
    return samples;
  };
  for (const depth of options.depths) {
    const add = depth - queued;
    const elapsed = performance.now() - started;
    const estimate = fillRate > 0 ? (add / fillRate) * 1000 : 0;
    if (elapsed + estimate > options.budgetMs) {
      skipped.push(`${depth.toLocaleString('en')} (filling would take ~${Math.round(estimate / 1000)} s at ${Math.round(fillRate)} jobs/s; budget ${Math.round(options.budgetMs / 1000)} s)`);
      continue;
    }
    log(`claim depth (${name}): filling to ${depth.toLocaleString('en')} pending tasks…`);
    const t0 = performance.now();
    const chunk = 10_000;
    for (let done = 0; done < add; done += chunk) {
      await fill(Math.min(chunk, add - done));
      if (performance.now() - started > options.budgetMs * 1.5) throw new Error(`${name}: filling exceeded the time budget`);
    }
    fillRate = add / ((performance.now() - t0) / 1000);
    queued = depth;
    // Warm the statements and pages, then measure.
    await timeClaims(1);
    const one = await timeClaims(1);
    const batch = await timeClaims(options.batchSize);
    const row: DepthRow = {
      depth,
      fillRate,
      one: { p50: percentile(one, 0.5), p99: percentile(one, 0.99), n: one.length },
      batch: { p50: percentile(batch, 0.5), p99: percentile(batch, 0.99), n: batch.length, size: options.batchSize },
    };
    rows.push(row);
    log(`  depth ${depth}: claim 1 p50 ${row.one.p50.toFixed(3)} ms p99 ${row.one.p99.toFixed(3)} ms; claim ${options.batchSize} p50 ${row.batch.p50.toFixed(3)} ms p99 ${row.batch.p99.toFixed(3)} ms (filled at ${Math.round(fillRate)} jobs/s)`);
  }
  return { store: name, rows, skipped, note: '' };
}

export async function measureSqliteClaimDepth(options: DepthOptions): Promise<DepthReport> {
  const dir = await mkdtemp(join(tmpdir(), 'vidfleet-bench-claim-'));
  const path = join(dir, 'claim.db');
  const store = await openSqliteStore(path);
  try {
    const report = await measureStore('SQLite', store, options);
    const size = (await stat(path)).size + (existsSync(`${path}-wal`) ? (await stat(`${path}-wal`)).size : 0);
    report.note = `database file ${(size / 1024 ** 2).toFixed(0)} MiB at the end`;
    return report;
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

type PostgresStoreCtor = new (options: { connectionString: string; schema: string }) => ClaimStore & Pick<Store, 'migrate'>;

/** The PostgreSQL store, when this build has one (it is being written alongside this bench). */
export async function loadPostgresStore(): Promise<PostgresStoreCtor | null> {
  const url = new URL('../../src/store/postgres/index.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return null;
  const mod = (await import(pathToFileURL(fileURLToPath(url)).href)) as { PostgresStore?: PostgresStoreCtor };
  return mod.PostgresStore ?? null;
}

export async function measurePostgresClaimDepth(connectionString: string, schema: string, options: DepthOptions): Promise<DepthReport | null> {
  const PostgresStore = await loadPostgresStore();
  if (!PostgresStore) return null;
  await dropSchema(connectionString, schema);
  const store = new PostgresStore({ connectionString, schema });
  try {
    await store.migrate();
    return await measureStore('PostgreSQL', store, options);
  } finally {
    await store.close();
    await dropSchema(connectionString, schema);
  }
}
