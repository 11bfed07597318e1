// The SQLite store: the conformance suite on a real file per test, then what only SQLite has —
// pragmas, query plans, schema versioning and upgrades, and separate OS processes racing on one
// file (claimers, janitors).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import ts from 'typescript';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isId, newId } from '../../src/store/ids.js';
import { CLAIM_CANDIDATES_SQL, CLAIM_UNFILTERED_SQL } from '../../src/store/sqlite/claim.js';
import { TASK_COUNTS_SQL } from '../../src/store/sqlite/counts.js';
import { EXPIRED_SQL, OVERDUE_SQL } from '../../src/store/sqlite/leases.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/sqlite/migrations.js';
import { openSqliteStore, SqliteStore } from '../../src/store/sqlite/index.js';
import { EXPIRED_KEYS_SQL, PRUNE_CANDIDATES_SQL } from '../../src/store/sqlite/retention.js';
import type { NewJob, RequeueResult, Store } from '../../src/store/store.js';
import { runStoreConformance } from './conformance.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tempDirs: string[] = [];
function tempDir(prefix = 'vidfleet-store-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A short-lived read-only connection to a store's file, for looking past the Store interface. */
function peek<T>(store: Store, read: (db: Database.Database) => T): T {
  const db = new Database((store as SqliteStore).path, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

runStoreConformance(
  'sqlite',
  async ({ now, sameDatabaseAs, expanders }) => {
    if (sameDatabaseAs) return new SqliteStore({ path: (sameDatabaseAs as SqliteStore).path, now, expanders });
    return new SqliteStore({ path: join(tempDir(), 'vidfleet.db'), now, expanders });
  },
  {
    // Table names come from the suite's fixed list, never from input.
    countRows: async (store, table) => peek(store, (db) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n),
  },
);

const CAPS = { kinds: ['probe'], concurrency: 1, ffmpegVersion: '7.1', encoders: [], hwaccels: [] };
const probeJob = (tasks = 1, maxRunMs = 24 * 3_600_000): NewJob => ({
  kind: 'probe',
  input: 'store://a.mp4',
  params: {},
  priority: 0,
  tasks: Array.from({ length: tasks }, () => ({ kind: 'probe', input: 'store://a.mp4', params: {}, maxAttempts: 3, maxRunMs })),
});

describe('newId', () => {
  it('is prefixed, fixed width, unique and sorts in creation order', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('task'));
    expect(ids.every((id) => isId('task', id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(isId('job', ids[0] as string)).toBe(false);
  });
});

describe('SqliteStore specifics', () => {
  const stores: SqliteStore[] = [];
  const open = async (path: string, now?: () => number) => {
    const s = await openSqliteStore(path, { now });
    stores.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  it('keeps a real file in WAL mode with the intended pragmas and schema version', async () => {
    const path = join(tempDir(), 'vidfleet.db');
    await open(path);
    expect(statSync(path).isFile()).toBe(true);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
  });

  it('claims, finds expired leases and overdue attempts, and picks jobs to prune with single index range scans, no sort; counts the queue by partial indexes', async () => {
    const path = join(tempDir(), 'vidfleet.db');
    await open(path);
    const db = new Database(path, { readonly: true });
    try {
      const plan = (sql: string, ...params: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
      // The requirements check reads each candidate row (a residual filter), but the scan is the
      // same single range of tasks_claim in hand-out order, with no sort.
      const claim = plan(CLAIM_CANDIDATES_SQL, { kind: 'probe', now: 0, max: 10, caps: '[]' });
      expect(claim[0]).toBe('SEARCH tasks USING INDEX tasks_claim (kind=?)');
      expect(claim.join('\n')).not.toMatch(/TEMP B-TREE|SCAN tasks/);
      expect(plan(CLAIM_UNFILTERED_SQL, { kind: 'probe', now: 0, max: 10 })).toEqual(['SEARCH tasks USING INDEX tasks_claim (kind=?)']);
      expect(plan(EXPIRED_SQL, 0)).toEqual(['SEARCH tasks USING INDEX tasks_lease (lease_expires_at<?)']);
      expect(plan(OVERDUE_SQL, 0)).toEqual(['SEARCH tasks USING INDEX tasks_run_deadline (run_deadline_at<?)']);
      const prune = plan(PRUNE_CANDIDATES_SQL, 0, 10);
      expect(prune[0]).toBe('SEARCH jobs USING INDEX jobs_finished (finished_at<?)');
      expect(prune.join('\n')).not.toMatch(/TEMP B-TREE|SCAN tasks/);
      expect(prune.join('\n')).toMatch(/SEARCH tasks USING INDEX tasks_job \(job_id=\?\)/);
      expect(plan(EXPIRED_KEYS_SQL, 0, 10).join('\n')).toMatch(/SEARCH idempotency_keys USING (COVERING )?INDEX idempotency_keys_expires \(expires_at<\?\)/);
      // The /metrics queue gauge: one partial index per state, never the finished rows.
      const counts = plan(TASK_COUNTS_SQL).join('\n');
      expect(counts).toMatch(/SCAN tasks USING COVERING INDEX tasks_due/);
      expect(counts).toMatch(/SCAN tasks USING INDEX tasks_waiting/);
      expect(counts).toMatch(/SCAN tasks USING INDEX (tasks_lease|tasks_run_deadline)/);
      expect(counts).not.toMatch(/SCAN tasks$/m);
    } finally {
      db.close();
    }
  });

  it('refuses a database whose schema is newer than the code', async () => {
    const path = join(tempDir(), 'vidfleet.db');
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await expect(openSqliteStore(path)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('newer') });
  });

  it('upgrades a version 1 database in place: tasks stored before run limits run without a deadline', async () => {
    let clock = Date.UTC(2030, 0, 1);
    const path = join(tempDir(), 'vidfleet.db');
    const v1 = new Database(path);
    v1.exec(MIGRATIONS[0] as string);
    v1.pragma('user_version = 1');
    v1.prepare(`INSERT INTO jobs (id, kind, input, params, priority, status, progress, created_at, updated_at) VALUES ('job_old', 'probe', 'store://a.mp4', '{}', 0, 'pending', 0, ?, ?)`).run(clock, clock);
    v1.prepare(`INSERT INTO tasks (id, job_id, kind, input, params, priority, status, max_attempts, run_after, created_at) VALUES ('task_old', 'job_old', 'probe', 'store://a.mp4', '{}', 0, 'pending', 3, ?, ?)`).run(clock, clock);
    v1.close();

    const store = await open(path, () => clock);
    const deadlines = () => peek(store, (db) => db.prepare(`SELECT id, max_run_ms, run_deadline_at FROM tasks ORDER BY id = 'task_old' DESC`).all());
    expect(peek(store, (db) => db.pragma('user_version', { simple: true }))).toBe(SCHEMA_VERSION);
    const w = (await store.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS })).id;
    const [old] = await store.claimTasks({ workerId: w, kinds: ['probe'], max: 1, leaseMs: 1000 });
    expect(old).toMatchObject({ taskId: 'task_old', attempt: 1 });
    const fresh = (await store.createJob(probeJob(1, 5000))).job;
    const [young] = await store.claimTasks({ workerId: w, kinds: ['probe'], max: 1, leaseMs: 600_000 });
    expect(deadlines()).toEqual([
      { id: 'task_old', max_run_ms: null, run_deadline_at: null },
      { id: fresh.tasks?.[0]?.id, max_run_ms: 5000, run_deadline_at: clock + 5000 },
    ]);
    // A year of heartbeats later the old task still runs; the new one timed out long ago.
    clock += 365 * 86_400_000;
    await store.heartbeat(w, [{ taskId: 'task_old', attempt: 1 }], 1000);
    expect(await store.requeueExpiredLeases()).toEqual({ requeued: 1, failed: 0, canceled: 0 });
    expect((await store.getJob(fresh.id, { withTasks: true }))?.tasks?.[0]).toMatchObject({ status: 'pending', error: { code: 'TASK_TIMEOUT' } });
    await store.completeTask({ taskId: 'task_old', attempt: 1, workerId: w }, { ok: true });
    expect(await store.getJob('job_old')).toMatchObject({ status: 'completed', result: { ok: true } });
    expect(young?.attempt).toBe(1);
  });
});

// ---- separate processes on one file ----

/**
 * Transpiles src/protocol and src/store to plain JS in a temp dir (no type check: vitest and tsc
 * cover that), so child processes can run the real SqliteStore on Node 20 without a TS loader.
 */
function transpileStore(): string {
  const out = tempDir('vidfleet-store-js-');
  symlinkSync(join(repoRoot, 'node_modules'), join(out, 'node_modules'), 'dir');
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
  for (const file of [...walk(join(repoRoot, 'src/protocol')), ...walk(join(repoRoot, 'src/store'))]) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: file,
    });
    const target = join(out, relative(repoRoot, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  return out;
}

/** A child process speaking in lines: it prints "ready" once started, then answers on stdout. */
interface Child {
  /** The next line the child prints; rejects if it exits first. */
  line(): Promise<string>;
  send(line: string): void;
  /** Closes its stdin and waits for a clean exit. */
  finish(): Promise<void>;
}

let transpiled: string | undefined;

function startChild(script: string, args: string[]): Child {
  transpiled ??= transpileStore();
  const file = join(transpiled, `child-${newId('upl')}.mjs`);
  writeFileSync(file, script);
  const child = spawn(process.execPath, [file, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async line() {
      const next = await lines.next();
      if (next.done) throw new Error(`child ${args.join(' ')} exited (${await exited}) without answering`);
      return next.value;
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    async finish() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`child ${args.join(' ')} exited ${code}`);
    },
  };
}

// Each claimer migrates (racing the others on a fresh file), registers, says "ready", waits for
// "go", then claims and completes until nothing is left, and prints what it claimed.
const CLAIMER = `
import { createInterface } from 'node:readline';
import { openSqliteStore } from './src/store/sqlite/index.js';
const [path, name, max] = process.argv.slice(2);
const store = await openSqliteStore(path);
const worker = await store.registerWorker({ name, hostname: 'child', capabilities: ${JSON.stringify(CAPS)} });
const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
process.stdout.write('ready\\n');
await input.next();
const claimed = [];
for (;;) {
  const got = await store.claimTasks({ workerId: worker.id, kinds: ['probe'], max: Number(max), leaseMs: 600000 });
  if (got.length === 0) break;
  for (const c of got) {
    claimed.push([c.taskId, c.attempt]);
    await store.completeTask({ taskId: c.taskId, attempt: c.attempt, workerId: worker.id }, { by: worker.id });
  }
  // SQLite's busy handler is not fair: a waiter sleeps while others keep taking the lock. A short
  // pause lets every process in, so the race is among all four rather than the first two.
  await new Promise((r) => setTimeout(r, 1));
}
await store.close();
process.stdout.write(JSON.stringify({ workerId: worker.id, claimed }) + '\\n');
`;

// A janitor: on every line it reads, runs five janitor passes as fast as it can and prints them.
const JANITOR = `
import { createInterface } from 'node:readline';
import { openSqliteStore } from './src/store/sqlite/index.js';
const store = await openSqliteStore(process.argv[2]);
process.stdout.write('ready\\n');
for await (const _ of createInterface({ input: process.stdin })) {
  const passes = [];
  for (let i = 0; i < 5; i++) {
    passes.push(await store.requeueExpiredLeases());
    await new Promise((r) => setTimeout(r, 1));
  }
  process.stdout.write(JSON.stringify(passes) + '\\n');
}
await store.close();
`;

interface ClaimerReport {
  workerId: string;
  claimed: [string, number][];
}

describe('SqliteStore across processes', () => {
  it('four processes racing on one file claim every task exactly once', async () => {
    const path = join(tempDir(), 'vidfleet.db');
    const children = [1, 2, 3, 4].map((i) => startChild(CLAIMER, [path, `proc-${i}`, String(i)]));
    for (const c of children) expect(await c.line()).toBe('ready');

    const store = await openSqliteStore(path);
    try {
      const jobs = [];
      for (let i = 0; i < 60; i++) jobs.push((await store.createJob(probeJob(10))).job);
      for (const c of children) c.send('go');
      const reports = await Promise.all(children.map(async (c) => JSON.parse(await c.line()) as ClaimerReport));
      await Promise.all(children.map((c) => c.finish()));

      const all = reports.flatMap((r) => r.claimed.map(([taskId, attempt]) => ({ taskId, attempt, workerId: r.workerId })));
      expect(all).toHaveLength(600);
      expect(new Set(all.map((c) => c.taskId)).size).toBe(600);
      expect(all.every((c) => c.attempt === 1)).toBe(true);
      // The race was real: more than one process got work.
      expect(reports.filter((r) => r.claimed.length > 0).length).toBeGreaterThan(1);
      const owner = new Map(all.map((c) => [c.taskId, c.workerId]));
      for (const job of jobs) {
        const done = await store.getJob(job.id, { withTasks: true });
        expect(done?.status).toBe('completed');
        for (const t of done?.tasks ?? []) expect([t.status, t.attempt, t.workerId]).toEqual(['completed', 1, owner.get(t.id)]);
      }
      expect((await store.listWorkers()).length).toBe(4);
    } finally {
      await store.close();
    }
  });

  it('four janitor processes at once take back each expired attempt exactly once, skipping no attempt', async () => {
    const path = join(tempDir(), 'vidfleet.db');
    const store = await openSqliteStore(path);
    const janitors = [1, 2, 3, 4].map(() => startChild(JANITOR, [path]));
    try {
      for (const j of janitors) expect(await j.line()).toBe('ready');
      const jobs = [];
      for (let i = 0; i < 30; i++) jobs.push((await store.createJob(probeJob(10))).job);
      const w = (await store.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS })).id;
      for (let round = 1; round <= 3; round++) {
        const claimed = await store.claimTasks({ workerId: w, kinds: ['probe'], max: 1000, leaseMs: 1 });
        expect(claimed).toHaveLength(300);
        expect(claimed.every((c) => c.attempt === round)).toBe(true);
        await new Promise((r) => setTimeout(r, 10)); // every lease has run out by the janitors' clocks
        for (const j of janitors) j.send('go');
        const passes = (await Promise.all(janitors.map(async (j) => JSON.parse(await j.line()) as RequeueResult[]))).flat();
        const sum = passes.reduce((a, r) => ({ requeued: a.requeued + r.requeued, failed: a.failed + r.failed, canceled: a.canceled + r.canceled }));
        expect(sum).toEqual(round < 3 ? { requeued: 300, failed: 0, canceled: 0 } : { requeued: 0, failed: 300, canceled: 0 });
      }
      for (const job of jobs) {
        const events = await store.listEvents(job.id);
        for (const t of (await store.getJob(job.id, { withTasks: true }))?.tasks ?? []) {
          expect([t.status, t.attempt, t.error?.code]).toEqual(['failed', 3, 'WORKER_LOST']);
          expect(events.filter((e) => e.taskId === t.id && e.type === 'task.lease_expired').map((e) => e.data.attempt)).toEqual([1, 2, 3]);
        }
      }
    } finally {
      await Promise.all(janitors.map((j) => j.finish()));
      await store.close();
    }
  });
});
