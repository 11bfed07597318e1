// The systems bench/dispatch compares, behind one shape: start the broker side and the worker
// processes, say when a set of submitted tasks has finished, read back when each was claimed and
// started, and clean up everything the run created.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Job as BullJob, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { LocalFleet } from '../../src/cli/local-fleet.js';
import type { Job } from '../../src/protocol/index.js';
import type { Role } from './cpu.js';
import { Child, mapLimit, pollUntil, type ClientTarget, type PgBossTarget, type RedisTarget, type WorkerTarget } from './common.js';
import type { NoopOutput } from './worker.js';

export interface Fleet {
  workers: number;
  concurrency: number;
}

/** When one task was claimed, started and finished, in ms on the machine's wall clock. */
export interface TaskTimes {
  claimedAt: number;
  runningAt: number;
  finishedAt: number;
}

export interface Done {
  /** Latest completion among the tasks (the system's own record of it). */
  lastFinishedAt: number;
  failed: number;
}

export interface SystemUnderTest {
  readonly id: string;
  readonly label: string;
  /** The clock points behind claimedAt / runningAt, for the report. */
  readonly clockNote: string;
  start(): Promise<void>;
  client(): ClientTarget;
  /**
   * Resolves once every task in `ids` has finished (completed or failed); bounded by `timeoutMs`.
   * `reached` is called as soon as that is seen, before any bookkeeping reads.
   */
  waitDone(ids: string[], timeoutMs: number, reached?: () => void): Promise<Done>;
  times(ids: string[]): Promise<Map<string, TaskTimes>>;
  /** The processes doing this system's work (for CPU accounting); the client is added by the caller. */
  roles(): Role[];
  stop(): Promise<void>;
}

const WORKER_SCRIPT = fileURLToPath(new URL('./worker.js', import.meta.url));
const POLL_MS = 100;
const isoMs = (iso: string | null | undefined): number => (iso ? Date.parse(iso) : NaN);

const childPids = (children: Child[]): number[] => children.map((c) => c.proc.pid).filter((p): p is number => p !== undefined);

async function startWorkers(name: string, fleet: Fleet, target: WorkerTarget): Promise<Child[]> {
  const children = Array.from({ length: fleet.workers }, (_, i) => Child.start(`${name} worker ${i + 1}`, WORKER_SCRIPT, target));
  try {
    await Promise.all(children.map((c) => c.ready(30_000)));
  } catch (err) {
    await Promise.all(children.map((c) => c.stop(2_000)));
    throw err;
  }
  return children;
}

// ---------------------------------------------------------------------------------------------
// vidfleet: the real coordinator (in this process, as `vidfleet up` runs it) and real
// `vidfleet worker` processes; clients and workers speak HTTP to it.

export class VidfleetSystem implements SystemUnderTest {
  readonly id: string;
  readonly label: string;
  readonly clockNote =
    'claimed = the coordinator\'s `task.claimed` event (claim transaction); running = its `task.running` event, written when the worker\'s "started" report for the attempt (batched: it rides on the worker\'s next claim or an `/acks` request, sent as it starts the task) reaches the coordinator — so it includes one worker→coordinator request. Both stamped Date.now() by the coordinator, i.e. floored to whole ms, so these latencies read 0–1 ms low.';
  private fleet: LocalFleet | null = null;
  private dir: string | null = null;
  /** The second coordinator (a process of its own) of the two-coordinator configuration. */
  private second: { child: ChildProcess; url: string } | null = null;

  constructor(
    private readonly fleetSize: Fleet,
    private readonly db: { kind: 'sqlite' } | { kind: 'postgres'; url: string; schema: string; coordinators?: 2 },
  ) {
    const two = db.kind === 'postgres' && db.coordinators === 2;
    this.id = two ? 'vidfleet-postgres-2' : `vidfleet-${db.kind}`;
    this.label = two ? 'vidfleet (PostgreSQL, 2 coordinators)' : `vidfleet (${db.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`;
  }

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'vidfleet-bench-dispatch-'));
    if (this.db.kind === 'postgres') await dropSchema(this.db.url, this.db.schema);
    const dbOptions = this.db.kind === 'postgres' ? { db: this.db.url, dbSchema: this.db.schema } : {};
    // Loaded here, not at the top: the competitors and the claim measurement still run while the
    // coordinator's module graph is broken in a work-in-progress tree.
    const { startLocalFleet } = await import('../../src/cli/local-fleet.js');
    if (this.db.kind === 'postgres' && this.db.coordinators === 2) {
      // Created first so its schema exists (migrated) before the other opens it.
      this.second = await startChildCoordinator(join(this.dir, 'data-b'), this.db.url, this.db.schema);
    }
    const second = this.second?.url;
    this.fleet = await startLocalFleet({
      // Half the workers go to each coordinator first; each knows the other to fail over to.
      ...(second !== undefined && { workerCoordinator: (i: number, first: string) => (i % 2 === 0 ? `${first},${second}` : `${second},${first}`) }),
      port: 0,
      dataDir: join(this.dir, 'data'),
      workers: this.fleetSize.workers,
      workerConcurrency: this.fleetSize.concurrency,
      workerLog: 'file',
      logLevel: 'warn',
      ...dbOptions,
    });
    const store = this.fleet.coordinator.store;
    if (this.db.kind === 'postgres' && store.constructor.name !== 'PostgresStore') {
      throw new NotWiredError(`the coordinator opened ${store.constructor.name} for db=${this.db.url}`);
    }
    await pollUntil(
      async () => ((await store.listWorkers()).filter((w) => w.status === 'online').length >= this.fleetSize.workers ? true : null),
      { timeoutMs: 30_000, intervalMs: 50, what: `${this.fleetSize.workers} vidfleet workers to register` },
    );
  }

  client(): ClientTarget {
    const first = this.requireFleet().coordinator.url;
    return { system: 'vidfleet', url: this.second ? `${first},${this.second.url}` : first };
  }

  private requireFleet(): LocalFleet {
    if (!this.fleet) throw new Error('vidfleet is not started');
    return this.fleet;
  }

  async waitDone(ids: string[], timeoutMs: number, reached?: () => void): Promise<Done> {
    const store = this.requireFleet().coordinator.store;
    // Jobs finish roughly in submit order: walk the list, re-reading only the first unfinished
    // one each poll, so the poll costs the coordinator one primary-key read per finished job.
    let next = 0;
    let lastFinishedAt = 0;
    let failed = 0;
    await pollUntil(
      async () => {
        while (next < ids.length) {
          const job: Job | null = await store.getJob(ids[next]!);
          if (!job || (job.status !== 'completed' && job.status !== 'failed' && job.status !== 'canceled')) return null;
          if (job.status !== 'completed') failed++;
          lastFinishedAt = Math.max(lastFinishedAt, isoMs(job.finishedAt));
          next++;
        }
        reached?.();
        return true;
      },
      { timeoutMs, intervalMs: POLL_MS, what: `${ids.length} vidfleet jobs to finish (${next} done)` },
    );
    return { lastFinishedAt, failed };
  }

  async times(ids: string[]): Promise<Map<string, TaskTimes>> {
    const store = this.requireFleet().coordinator.store;
    const out = new Map<string, TaskTimes>();
    await mapLimit(ids, 8, async (id) => {
      const events = await store.listEvents(id);
      const at = (type: string): number => isoMs(events.find((e) => e.type === type)?.createdAt);
      out.set(id, { claimedAt: at('task.claimed'), runningAt: at('task.running'), finishedAt: at('job.completed') });
    });
    return out;
  }

  roles(): Role[] {
    const fleet = this.requireFleet();
    const roles: Role[] = [
      { role: 'coordinator (+ bench harness, same process)', pids: [process.pid] },
      { role: 'workers', pids: fleet.workers.map((w) => w.pid).filter((p): p is number => p !== undefined) },
    ];
    if (this.second?.child.pid !== undefined) roles.push({ role: 'second coordinator', pids: [this.second.child.pid] });
    if (this.db.kind === 'postgres') roles.push({ role: 'PostgreSQL', pids: [], comm: 'postgres' });
    return roles;
  }

  async stop(): Promise<void> {
    await this.fleet?.stop();
    this.fleet = null;
    if (this.second) {
      const { child } = this.second;
      this.second = null;
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve).kill('SIGTERM'));
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
    this.dir = null;
    if (this.db.kind === 'postgres') await dropSchema(this.db.url, this.db.schema);
  }
}

/** bin/vidfleet.js at the repository root (this file runs as dist/bench/dispatch/systems.js). */
const CLI = fileURLToPath(new URL('../../../bin/vidfleet.js', import.meta.url));

/** `vidfleet coordinator` in a process of its own on the same schema; resolves with its URL. */
async function startChildCoordinator(dataDir: string, db: string, schema: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'coordinator', '--port', '0', '--data', dataDir, '--db', db, '--db-schema', schema], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the second coordinator did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`the second coordinator exited (${code}): ${out}`)));
  });
  // Keep reading so a full pipe never blocks it.
  child.stdout!.resume();
  child.stderr!.resume();
  return { child, url };
}

/** The coordinator does not (yet) open PostgreSQL when asked to. */
export class NotWiredError extends Error {}

// ---------------------------------------------------------------------------------------------
// BullMQ on the local Redis, under a key prefix this run owns.

export class BullmqSystem implements SystemUnderTest {
  readonly id = 'bullmq';
  readonly label = 'BullMQ (Redis)';
  readonly clockNote =
    'claimed = the job\'s processedOn (worker\'s Date.now() when it moved the job to active); running = wall clock in the worker process as the processor function starts (returned as the job\'s result). processedOn is whole ms (floored), so claimed reads 0–1 ms low and can come out below zero.';
  private queue: Queue | null = null;
  private workers: Child[] = [];

  constructor(
    private readonly fleet: Fleet,
    private readonly redis: RedisTarget,
  ) {}

  async start(): Promise<void> {
    await deleteRedisPrefix(this.redis);
    this.queue = new Queue(this.redis.queue, { connection: { host: this.redis.host, port: this.redis.port }, prefix: this.redis.prefix });
    await this.queue.waitUntilReady();
    this.workers = await startWorkers('bullmq', this.fleet, { system: 'bullmq', redis: this.redis, concurrency: this.fleet.concurrency });
  }

  client(): ClientTarget {
    return { system: 'bullmq', redis: this.redis };
  }

  private jobs(ids: string[]): Promise<(BullJob | undefined)[]> {
    const queue = this.queue;
    if (!queue) throw new Error('BullMQ is not started');
    return mapLimit(ids, 64, (id) => BullJob.fromId(queue, id));
  }

  async waitDone(ids: string[], timeoutMs: number, reached?: () => void): Promise<Done> {
    const queue = this.queue;
    if (!queue) throw new Error('BullMQ is not started');
    // Cheap while running: are the last few submitted done? Then confirm every job once.
    const tail = ids.slice(-16);
    await pollUntil(
      async () => {
        const states = await Promise.all(tail.map((id) => queue.getJobState(id)));
        return states.every((s) => s === 'completed' || s === 'failed') ? true : null;
      },
      { timeoutMs, intervalMs: POLL_MS, what: `the last BullMQ jobs to finish` },
    );
    reached?.();
    let lastFinishedAt = 0;
    let failed = 0;
    await pollUntil(
      async () => {
        const jobs = await this.jobs(ids);
        if (jobs.some((j) => !j?.finishedOn)) return null;
        for (const j of jobs) {
          lastFinishedAt = Math.max(lastFinishedAt, j!.finishedOn!);
          if (j!.failedReason) failed++;
        }
        return true;
      },
      { timeoutMs, intervalMs: 250, what: `all ${ids.length} BullMQ jobs to finish` },
    );
    return { lastFinishedAt, failed };
  }

  async times(ids: string[]): Promise<Map<string, TaskTimes>> {
    const jobs = await this.jobs(ids);
    const out = new Map<string, TaskTimes>();
    jobs.forEach((j, i) => {
      const output = j?.returnvalue as NoopOutput | undefined;
      out.set(ids[i]!, { claimedAt: j?.processedOn ?? NaN, runningAt: output?.startedAt ?? NaN, finishedAt: j?.finishedOn ?? NaN });
    });
    return out;
  }

  roles(): Role[] {
    return [
      { role: 'Redis', pids: [], comm: 'redis-server' },
      { role: 'workers', pids: childPids(this.workers) },
      { role: 'bench harness', pids: [process.pid] },
    ];
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
    this.workers = [];
    if (this.queue) {
      await this.queue.obliterate({ force: true }).catch(() => undefined);
      await this.queue.close();
      this.queue = null;
    }
    await deleteRedisPrefix(this.redis);
  }
}

/** Deletes every key under the run's prefix (SCAN, bounded in rounds). */
async function deleteRedisPrefix(redis: RedisTarget): Promise<void> {
  const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    let cursor = '0';
    for (let round = 0; round < 10_000; round++) {
      const [nextCursor, keys] = await client.scan(cursor, 'MATCH', `${redis.prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await client.del(...keys);
      cursor = nextCursor;
      if (cursor === '0') break;
    }
  } finally {
    client.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// pg-boss on the local PostgreSQL, in a schema this run owns.

export class PgBossSystem implements SystemUnderTest {
  readonly id = 'pgboss';
  readonly label = 'pg-boss (PostgreSQL)';
  readonly clockNote =
    'claimed = the job\'s started_on (PostgreSQL now() in the fetch statement); running = wall clock in the worker process as the handler starts (stored as the job\'s output).';
  private boss: PgBoss | null = null;
  private pool: pg.Pool | null = null;
  private workers: Child[] = [];

  constructor(
    private readonly fleet: Fleet,
    private readonly target: PgBossTarget,
  ) {}

  async start(): Promise<void> {
    await dropSchema(this.target.connectionString, this.target.schema);
    // This instance installs the schema and creates the queue; no maintenance timers run
    // anywhere (nothing expires or is archived within a run).
    this.boss = new PgBoss({ connectionString: this.target.connectionString, schema: this.target.schema, supervise: false, schedule: false, max: 2 });
    this.boss.on('error', (err) => process.stderr.write(`pg-boss: ${String(err)}\n`));
    await this.boss.start();
    await this.boss.createQueue(this.target.queue);
    this.pool = new pg.Pool({ connectionString: this.target.connectionString, max: 2 });
    this.workers = await startWorkers('pg-boss', this.fleet, { system: 'pgboss', pg: this.target, concurrency: this.fleet.concurrency });
  }

  client(): ClientTarget {
    return { system: 'pgboss', pg: this.target };
  }

  private query<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    if (!this.pool) throw new Error('pg-boss is not started');
    return this.pool.query<R>(sql, values);
  }

  async waitDone(ids: string[], timeoutMs: number, reached?: () => void): Promise<Done> {
    const sql = `SELECT count(*) FILTER (WHERE state = 'completed')::int AS completed, count(*) FILTER (WHERE state = 'failed')::int AS failed,
        (extract(epoch FROM max(completed_on)) * 1000)::float8 AS last
      FROM ${this.target.schema}.job WHERE name = $1 AND id = ANY($2::uuid[])`;
    return pollUntil(
      async () => {
        const row = (await this.query<{ completed: number; failed: number; last: number | null }>(sql, [this.target.queue, ids])).rows[0];
        if (!row || row.completed + row.failed < ids.length) return null;
        reached?.();
        return { lastFinishedAt: row.last ?? NaN, failed: row.failed };
      },
      { timeoutMs, intervalMs: 250, what: `${ids.length} pg-boss jobs to finish` },
    );
  }

  async times(ids: string[]): Promise<Map<string, TaskTimes>> {
    const { rows } = await this.query<{ id: string; claimed: number; finished: number; output: NoopOutput | null }>(
      `SELECT id, (extract(epoch FROM started_on) * 1000)::float8 AS claimed, (extract(epoch FROM completed_on) * 1000)::float8 AS finished, output
       FROM ${this.target.schema}.job WHERE name = $1 AND id = ANY($2::uuid[])`,
      [this.target.queue, ids],
    );
    return new Map(rows.map((r) => [r.id, { claimedAt: r.claimed, runningAt: r.output?.startedAt ?? NaN, finishedAt: r.finished }]));
  }

  roles(): Role[] {
    return [
      { role: 'PostgreSQL', pids: [], comm: 'postgres' },
      { role: 'workers', pids: childPids(this.workers) },
      { role: 'bench harness', pids: [process.pid] },
    ];
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
    this.workers = [];
    await this.boss?.stop({ graceful: false, wait: true, close: true });
    this.boss = null;
    await this.pool?.end();
    this.pool = null;
    await dropSchema(this.target.connectionString, this.target.schema);
  }
}

export async function dropSchema(connectionString: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`refusing to drop schema "${schema}"`);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
