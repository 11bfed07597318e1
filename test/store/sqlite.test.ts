// The SQLite store: the conformance suite on a real file per test, then what only SQLite has —
// pragmas, query plans, schema versioning, separate OS processes racing on one file, and the
// canceling paths (no Store method starts a cancel yet, so the test sets the status directly).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import ts from 'typescript';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ERROR_CATALOG } from '../../src/protocol/index.js';
import { isId, newId } from '../../src/store/ids.js';
import { CLAIM_CANDIDATES_SQL } from '../../src/store/sqlite/claim.js';
import { EXPIRED_SQL } from '../../src/store/sqlite/leases.js';
import { SCHEMA_VERSION } from '../../src/store/sqlite/migrations.js';
import { openSqliteStore, SqliteStore } from '../../src/store/sqlite/index.js';
import type { NewJob } from '../../src/store/store.js';
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

runStoreConformance('sqlite', async ({ now, sameDatabaseAs }) => {
  if (sameDatabaseAs) return new SqliteStore({ path: (sameDatabaseAs as SqliteStore).path, now });
  return new SqliteStore({ path: join(tempDir(), 'vidfleet.db'), now });
});

const CAPS = { kinds: ['probe'], concurrency: 1, ffmpegVersion: '7.1', encoders: [], hwaccels: [] };
const probeJob = (tasks = 1): NewJob => ({
  kind: 'probe',
  input: 'store://a.mp4',
  params: {},
  priority: 0,
  tasks: Array.from({ length: tasks }, () => ({ kind: 'probe', input: 'store://a.mp4', params: {}, maxAttempts: 3 })),
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

  it('claims and finds expired leases with single index range scans, no sort', async () => {
    const path = join(tempDir(), 'vidfleet.db');
    await open(path);
    const db = new Database(path, { readonly: true });
    try {
      const plan = (sql: string, ...params: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
      expect(plan(CLAIM_CANDIDATES_SQL, 'probe', 0, 10)).toEqual(['SEARCH tasks USING COVERING INDEX tasks_claim (kind=?)']);
      expect(plan(EXPIRED_SQL, 0)).toEqual(['SEARCH tasks USING INDEX tasks_lease (lease_expires_at<?)']);
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

  it('ends a canceling task as canceled: heartbeat and progress answer cancel, failure confirms, expiry forces', async () => {
    let clock = Date.UTC(2030, 0, 1);
    const path = join(tempDir(), 'vidfleet.db');
    const store = await open(path, () => clock);
    const w = (await store.registerWorker({ name: 'w', hostname: 'h', capabilities: CAPS })).id;
    const confirmed = await store.createJob(probeJob());
    const forced = await store.createJob(probeJob());
    const [a, b] = await store.claimTasks({ workerId: w, kinds: ['probe'], max: 2, leaseMs: 1000 });
    if (!a || !b) throw new Error('expected two claims');
    const raw = new Database(path);
    raw.prepare(`UPDATE tasks SET status = 'canceling' WHERE id IN (?, ?)`).run(a.taskId, b.taskId);
    raw.close();

    expect(await store.heartbeat(w, [{ taskId: a.taskId, attempt: 1 }], 60_000)).toEqual([{ taskId: a.taskId, attempt: 1, state: 'cancel' }]);
    expect((await store.getJob(confirmed.id, { withTasks: true }))?.tasks?.[0]?.leaseExpiresAt).toBe(new Date(clock + 1000).toISOString());
    expect(await store.reportProgress({ taskId: a.taskId, attempt: 1, workerId: w }, 0.2)).toBe('cancel');
    expect((await store.getJob(confirmed.id))?.status).toBe('canceling');
    const error = { code: 'FFMPEG_FAILED' as const, message: 'stopped', hint: ERROR_CATALOG.FFMPEG_FAILED.hint, retryable: true };
    expect(await store.failTask({ taskId: a.taskId, attempt: 1, workerId: w }, error, { retryDelayMs: 0 })).toBe('failed');
    expect(await store.getJob(confirmed.id, { withTasks: true })).toMatchObject({ status: 'canceled', tasks: [{ status: 'canceled' }] });

    clock += 1000;
    expect(await store.requeueExpiredLeases()).toEqual({ requeued: 0, failed: 0 });
    expect(await store.getJob(forced.id, { withTasks: true })).toMatchObject({ status: 'canceled', tasks: [{ status: 'canceled', attempt: 1 }] });
    const types = (await store.listEvents(forced.id)).map((e) => e.type);
    expect(types.slice(-3)).toEqual(['task.lease_expired', 'task.canceled', 'job.canceled']);
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

// Each child migrates (racing the others on a fresh file), registers, says "ready", waits for
// "go", then claims and completes until nothing is left, and prints what it claimed.
const CHILD = `
import { openSqliteStore } from './src/store/sqlite/index.js';
const [path, name, max] = process.argv.slice(2);
const store = await openSqliteStore(path);
const worker = await store.registerWorker({ name, hostname: 'child', capabilities: ${JSON.stringify(CAPS)} });
process.stdout.write('ready\\n');
await new Promise((r) => process.stdin.once('data', r));
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

interface ChildReport {
  workerId: string;
  claimed: [string, number][];
}

describe('SqliteStore across processes', () => {
  it('four processes racing on one file claim every task exactly once', async () => {
    const js = transpileStore();
    writeFileSync(join(js, 'child.mjs'), CHILD);
    const path = join(tempDir(), 'vidfleet.db');
    const children = [1, 2, 3, 4].map((i) => {
      const child = spawn(process.execPath, [join(js, 'child.mjs'), path, `proc-${i}`, String(i)], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      const ready = new Promise<void>((res, rej) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.startsWith('ready\n')) res();
        });
        child.on('exit', (code) => rej(new Error(`child ${i} exited early (${code})`)));
      });
      const done = new Promise<ChildReport>((res, rej) => {
        child.on('exit', (code) => (code === 0 ? res(JSON.parse(out.slice('ready\n'.length)) as ChildReport) : rej(new Error(`child ${i} exited ${code}`))));
      });
      return { child, ready, done };
    });
    await Promise.all(children.map((c) => c.ready));

    const store = await openSqliteStore(path);
    try {
      const jobs = [];
      for (let i = 0; i < 60; i++) jobs.push(await store.createJob(probeJob(10)));
      for (const c of children) c.child.stdin.end('go\n');
      const reports = await Promise.all(children.map((c) => c.done));

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
});
