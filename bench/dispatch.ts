// bench/dispatch: no-op tasks through vidfleet's real HTTP path (clients POST /v1/jobs, worker
// processes long-poll claim, announce running, complete) beside BullMQ on the local Redis and
// pg-boss on the local PostgreSQL doing the same no-op work, in the same run, with the same
// number of worker processes and the same concurrency each. Then claim latency on the SQLite
// store (and the PostgreSQL one, when this build has it) at growing queue depths.
// Writes its section of bench/RESULTS.md.
//
//   npm run bench:dispatch
//   npm run bench:dispatch -- --rounds 1 --tasks 500 --paced 50 --claim-depths 10000 --claim-pg-depths 2000 --dry-run   (quick check)
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { machineLine, writeResultsSection } from './results.js';
import { measurePostgresClaimDepth, measureSqliteClaimDepth, type DepthReport } from './dispatch/claim-depth.js';
import { startCpuWindow, waitForQuietMachine, type CpuReport } from './dispatch/cpu.js';
import { Child, median, percentile, sleep, type ClientResult } from './dispatch/common.js';
import { BullmqSystem, NotWiredError, PgBossSystem, VidfleetSystem, type Fleet, type SystemUnderTest } from './dispatch/systems.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '5000' },
    'submit-concurrency': { type: 'string', default: '32' },
    paced: { type: 'string', default: '200' },
    rate: { type: 'string', default: '50' },
    workers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    systems: { type: 'string', default: 'vidfleet-sqlite,vidfleet-postgres,vidfleet-postgres-2,bullmq,pgboss' },
    'claim-depths': { type: 'string', default: '10000,100000,1000000' },
    'claim-pg-depths': { type: 'string', default: '10000,100000' },
    'claim-samples': { type: 'string', default: '300' },
    'claim-batch': { type: 'string', default: '16' },
    'claim-budget-s': { type: 'string', default: '900' },
    'skip-claim': { type: 'boolean', default: false },
    'skip-dispatch': { type: 'boolean', default: false },
    pg: { type: 'string', default: process.env.VIDFLEET_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test' },
    redis: { type: 'string', default: '127.0.0.1:6379' },
    'quiet-wait-s': { type: 'string', default: '300' },
    'extra-rounds': { type: 'string', default: '2' },
    'dry-run': { type: 'boolean', default: false },
  },
});

const int = (name: keyof typeof values, min: number): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${String(values[name])}`);
  return n;
};
const TASKS = int('tasks', 1);
const SUBMIT_CONCURRENCY = int('submit-concurrency', 1);
const PACED = int('paced', 1);
const RATE = Number(values.rate);
const WARMUP = int('warmup', 0);
const ROUNDS = int('rounds', 1);
const FLEET: Fleet = { workers: int('workers', 1), concurrency: int('concurrency', 1) };
const [REDIS_HOST = '127.0.0.1', REDIS_PORT = '6379'] = values.redis!.split(':');
const PG_URL = values.pg!;
const RUN_ID = `${process.pid}`;
const CLIENT_SCRIPT = fileURLToPath(new URL('./dispatch/client.js', import.meta.url));
const log = (line: string): void => void process.stderr.write(`${line}\n`);

if (!(RATE > 0 && RATE <= 10_000)) throw new Error(`--rate must be in (0, 10000], got ${values.rate}`);
if (!/^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(REDIS_HOST) || !/@(127\.\d+\.\d+\.\d+|localhost)[:/]/.test(PG_URL)) {
  throw new Error('bench/dispatch talks to loopback services only (--redis 127.0.0.1:PORT, --pg postgres://…@127.0.0.1…)');
}

function makeSystem(id: string): SystemUnderTest {
  switch (id) {
    case 'vidfleet-sqlite':
      return new VidfleetSystem(FLEET, { kind: 'sqlite' });
    case 'vidfleet-postgres':
      return new VidfleetSystem(FLEET, { kind: 'postgres', url: PG_URL, schema: `vidfleet_bench_${RUN_ID}` });
    case 'vidfleet-postgres-2':
      return new VidfleetSystem(FLEET, { kind: 'postgres', url: PG_URL, schema: `vidfleet_bench2_${RUN_ID}`, coordinators: 2 });
    case 'bullmq':
      return new BullmqSystem(FLEET, { host: REDIS_HOST, port: Number(REDIS_PORT), prefix: `vidfleet-bench-${RUN_ID}`, queue: 'dispatch' });
    case 'pgboss':
      return new PgBossSystem(FLEET, { connectionString: PG_URL, schema: `vidfleet_bench_pgboss_${RUN_ID}`, queue: 'dispatch' });
    default:
      throw new Error(`unknown system ${id} (known: vidfleet-sqlite, vidfleet-postgres, vidfleet-postgres-2, bullmq, pgboss)`);
  }
}

interface RoundResult {
  throughput: number;
  /** Rate at which the client got its submits acknowledged. */
  submitRate: number;
  failed: number;
  running: number[];
  claimed: number[];
  maxLagMs: number;
  /** CPU by role over the throughput run (Linux only). */
  cpu: CpuReport | null;
  /** The same over the latency run. */
  pacedCpu: CpuReport | null;
}

/** Share of the machine that processes outside the bench may use during a round before it is set aside. */
const MAX_OUTSIDE_SHARE = 0.1;

/** Why a round's numbers cannot be trusted (other work took a share of the machine), or null. */
function disturbance(round: RoundResult): string | null {
  for (const [what, cpu] of [['throughput', round.cpu], ['latency', round.pacedCpu]] as const) {
    if (cpu && cpu.otherSeconds > MAX_OUTSIDE_SHARE * cpu.wallSeconds * cpu.cores) {
      return `${what} run: ${cpu.otherSeconds.toFixed(1)} CPU-s used outside the bench over ${cpu.wallSeconds.toFixed(1)} s`;
    }
  }
  return null;
}

interface SystemResult {
  id: string;
  label: string;
  clockNote: string;
  rounds: RoundResult[];
  /** Why it has no numbers. */
  missing: string | null;
  todo: boolean;
}

const ids = (r: ClientResult): string[] => r.sent.map((s) => s.id);

/** Runs measured with something else busy on the machine (see waitForQuietMachine). */
const busyRuns: string[] = [];

async function runOnce(system: SystemUnderTest): Promise<RoundResult> {
  const burstTimeoutMs = Math.min(20 * 60_000, 120_000 + TASKS * 20);
  const quiet = await waitForQuietMachine({ maxBusyCores: 0.25, timeoutMs: int('quiet-wait-s', 0) * 1000, log });
  if (!quiet.quiet) busyRuns.push(`${system.label} (${quiet.busyCores.toFixed(2)} cores busy before it started)`);
  log(`${system.label}: starting ${FLEET.workers} worker processes × concurrency ${FLEET.concurrency}`);
  await system.start();
  const client = Child.start(`${system.id} client`, CLIENT_SCRIPT, system.client());
  try {
    await client.ready(30_000);
    if (WARMUP > 0) {
      log(`${system.label}: warm-up, ${WARMUP} tasks`);
      const warm = await client.run<ClientResult>({ type: 'burst', count: WARMUP, concurrency: SUBMIT_CONCURRENCY, tag: 'warmup' }, burstTimeoutMs);
      await system.waitDone(ids(warm), burstTimeoutMs);
      await sleep(500);
    }
    log(`${system.label}: throughput, ${TASKS} tasks, ${SUBMIT_CONCURRENCY} submits in flight`);
    const clientPid = client.proc.pid;
    const window = startCpuWindow([...system.roles(), { role: 'client', pids: clientPid === undefined ? [] : [clientPid] }]);
    const measured: { cpu: CpuReport | null; pacedCpu: CpuReport | null } = { cpu: null, pacedCpu: null };
    const burst = await client.run<ClientResult>({ type: 'burst', count: TASKS, concurrency: SUBMIT_CONCURRENCY, tag: 'burst' }, burstTimeoutMs);
    const done = await system.waitDone(ids(burst), burstTimeoutMs, () => (measured.cpu ??= window?.stop() ?? null));
    const cpu = measured.cpu;
    const seconds = (done.lastFinishedAt - burst.firstSentAt) / 1000;
    const throughput = TASKS / seconds;
    const submitRate = TASKS / ((burst.lastAckedAt - burst.firstSentAt) / 1000);
    log(`  ${throughput.toFixed(0)} tasks/s (${seconds.toFixed(2)} s; submits acknowledged at ${submitRate.toFixed(0)}/s; ${done.failed} failed)`);
    if (cpu) log(`  CPU: ${describeCpu(cpu, TASKS)}`);
    await sleep(1_000);
    log(`${system.label}: latency, ${PACED} tasks at ${RATE}/s`);
    const pacedTimeoutMs = (PACED / RATE) * 1000 + 120_000;
    const pacedWindow = startCpuWindow([...system.roles(), { role: 'client', pids: clientPid === undefined ? [] : [clientPid] }]);
    const paced = await client.run<ClientResult>({ type: 'paced', count: PACED, ratePerSec: RATE, tag: 'paced' }, pacedTimeoutMs);
    const pacedDone = await system.waitDone(ids(paced), pacedTimeoutMs, () => (measured.pacedCpu ??= pacedWindow?.stop() ?? null));
    const times = await system.times(ids(paced));
    const running: number[] = [];
    const claimed: number[] = [];
    for (const s of paced.sent) {
      const t = times.get(s.id);
      if (!t || !Number.isFinite(t.runningAt) || !Number.isFinite(t.claimedAt)) throw new Error(`${system.label}: no start time recorded for task ${s.id}`);
      running.push(t.runningAt - s.sentAt);
      claimed.push(t.claimedAt - s.sentAt);
    }
    log(
      `  submit→running p50 ${percentile(running, 0.5).toFixed(1)} ms p99 ${percentile(running, 0.99).toFixed(1)} ms; submit→claimed p50 ${percentile(claimed, 0.5).toFixed(1)} ms p99 ${percentile(claimed, 0.99).toFixed(1)} ms (sends up to ${paced.maxLagMs.toFixed(1)} ms late)`,
    );
    const round: RoundResult = { throughput, submitRate, failed: done.failed + pacedDone.failed, running, claimed, maxLagMs: paced.maxLagMs, cpu, pacedCpu: measured.pacedCpu };
    const disturbed = disturbance(round);
    if (disturbed) log(`  round disturbed by other work (${disturbed}); it will be left out if enough clean rounds exist`);
    return round;
  } finally {
    await client.stop();
    await system.stop();
  }
}

function describeCpu(cpu: CpuReport, tasks: number): string {
  const perTask = (seconds: number): string => `${((seconds * 1000) / tasks).toFixed(3)} ms`;
  return (
    cpu.roles.map((r) => `${r.role} ${perTask(r.seconds)}`).join(', ') +
    ` per task; machine ${((100 * cpu.machineBusySeconds) / (cpu.wallSeconds * cpu.cores)).toFixed(0)}% busy over ${cpu.wallSeconds.toFixed(1)} s, ${cpu.otherSeconds.toFixed(1)} CPU-s outside these processes`
  );
}

async function runDispatch(systemIds: string[]): Promise<SystemResult[]> {
  const results = new Map<string, SystemResult>();
  const measure = async (id: string): Promise<void> => {
    const system = makeSystem(id);
    const result = results.get(id) ?? { id, label: system.label, clockNote: system.clockNote, rounds: [], missing: null, todo: false };
    results.set(id, result);
    if (result.missing) return;
    try {
      result.rounds.push(await runOnce(system));
    } catch (err) {
      result.todo = err instanceof NotWiredError;
      result.missing = (err as Error).message;
      log(`${system.label}: not measured: ${(err as Error).stack ?? String(err)}`);
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no system always runs first (cold disk cache) or last.
    for (const id of systemIds.map((_, i) => systemIds[(i + round) % systemIds.length]!)) await measure(id);
  }
  // A system with fewer clean rounds than half of them gets a bounded number of extra rounds.
  const wantClean = Math.ceil(ROUNDS / 2);
  for (let extra = 0; extra < int('extra-rounds', 0); extra++) {
    const short = systemIds.filter((id) => {
      const r = results.get(id);
      return r && !r.missing && r.rounds.filter((x) => !disturbance(x)).length < wantClean;
    });
    if (short.length === 0) break;
    for (const id of short) {
      log(`${results.get(id)!.label}: extra round (too few rounds undisturbed by other work)`);
      await measure(id);
    }
  }
  return systemIds.map((id) => results.get(id)!);
}

// ---- report ----

const ms = (v: number): string => (v < 10 ? v.toFixed(2) : v.toFixed(1));
const ratio = (v: number): string => `${v.toFixed(2)}×`;
const tick = (ok: boolean): string => (ok ? 'met' : '**not met**');

interface Summary {
  /** Rounds the numbers come from, of all measured. */
  used: number;
  total: number;
  throughput: number;
  submitRate: number;
  runningP50: number;
  runningP99: number;
  claimedP50: number;
  claimedP99: number;
  failed: number;
  n: number;
}

/** The rounds a system's numbers come from: the undisturbed ones, or every one if none was. */
function usedRounds(r: SystemResult): RoundResult[] {
  const clean = r.rounds.filter((x) => !disturbance(x));
  return clean.length > 0 ? clean : r.rounds;
}

function summarize(r: SystemResult): Summary | null {
  if (r.rounds.length === 0) return null;
  const rounds = usedRounds(r);
  const running = rounds.flatMap((x) => x.running);
  const claimed = rounds.flatMap((x) => x.claimed);
  return {
    used: rounds.length,
    total: r.rounds.length,
    throughput: median(rounds.map((x) => x.throughput)),
    submitRate: median(rounds.map((x) => x.submitRate)),
    runningP50: percentile(running, 0.5),
    runningP99: percentile(running, 0.99),
    claimedP50: percentile(claimed, 0.5),
    claimedP99: percentile(claimed, 0.99),
    failed: rounds.reduce((a, x) => a + x.failed, 0),
    n: running.length,
  };
}

function dispatchSection(results: SystemResult[]): string {
  const byId = new Map(results.map((r) => [r.id, { r, s: summarize(r) }]));
  const bull = byId.get('bullmq')?.s ?? null;
  const boss = byId.get('pgboss')?.s ?? null;
  const lines: string[] = [];
  lines.push(
    `Setup, identical for every system: ${FLEET.workers} worker processes × concurrency ${FLEET.concurrency}; one client process submitting one task per request through the system's own client library (vidfleet: \`VidfleetClient.submitJob\`, HTTP; BullMQ: \`Queue.add\`; pg-boss: \`send\`). Each system is started fresh, warmed up with ${WARMUP} tasks, measured, then torn down before the next; ${ROUNDS} round(s)${ROUNDS > 1 ? ', throughput is the median round, latency percentiles pool all rounds' : ''}.`,
    `- **Throughput**: ${TASKS.toLocaleString('en')} tasks submitted as fast as the client can (${SUBMIT_CONCURRENCY} submits in flight); tasks/s = tasks ÷ (first submit sent → last completion as the system records it).`,
    `- **Latency**: a separate run of ${PACED} tasks sent at a steady ${RATE}/s; latency = the task's start minus the moment the client sent its submit (both on this machine's wall clock; which start is taken per system is listed below the table).`,
    '',
    '| system | throughput tasks/s | × BullMQ | submit→running p50 / p99 ms | p50 × BullMQ | submit→claimed p50 / p99 ms | failed | rounds used |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const { r, s } of byId.values()) {
    if (!s) {
      const why = r.todo
        ? `TODO: not measured — ${r.missing}. Needs the coordinator to open PostgreSQL from \`db: postgres://…\` (\`--db\` / \`VIDFLEET_DB\`).`
        : `not measured: ${(r.missing ?? 'not run').split('\n')[0]}`;
      lines.push(`| ${r.label} | — | — | — | — | — | ${why} | 0 |`);
      continue;
    }
    lines.push(
      `| ${r.label} | ${s.throughput.toFixed(0)} | ${bull ? ratio(s.throughput / bull.throughput) : '—'} | ${ms(s.runningP50)} / ${ms(s.runningP99)} | ${bull ? ratio(s.runningP50 / bull.runningP50) : '—'} | ${ms(s.claimedP50)} / ${ms(s.claimedP99)} | ${s.failed} | ${s.used}/${s.total}${s.used < s.total ? '¹' : s.used === s.total && r.rounds.some((x) => disturbance(x)) ? '²' : ''} |`,
    );
  }
  const setAside = results.flatMap((r) => r.rounds.map((x) => ({ r, why: disturbance(x) })).filter((x) => x.why));
  if (setAside.length > 0) {
    lines.push(
      '',
      `¹ Rounds during which processes outside the bench (other test suites, builds) used more than ${MAX_OUTSIDE_SHARE * 100}% of the machine are left out: ${setAside.map((x) => `${x.r.label} (${x.why})`).join('; ')}. ² Every round of that system was disturbed so all are used: read its numbers as low.`,
    );
  }
  lines.push('', 'Goals (issue 3):', '');
  const sqlite = byId.get('vidfleet-sqlite')?.s ?? null;
  const postgres = byId.get('vidfleet-postgres');
  if (sqlite) {
    lines.push(
      bull
        ? `- vidfleet on SQLite, throughput ≥ 1.0× BullMQ: **${ratio(sqlite.throughput / bull.throughput)}** (${sqlite.throughput.toFixed(0)} vs ${bull.throughput.toFixed(0)} tasks/s) — ${tick(sqlite.throughput >= bull.throughput)}.`
        : '- vidfleet on SQLite, throughput ≥ 1.0× BullMQ: BullMQ not measured.',
      `- vidfleet on SQLite, submit→running p50 ≤ 10 ms: **${ms(sqlite.runningP50)} ms** — ${tick(sqlite.runningP50 <= 10)}; p99 ≤ 50 ms: **${ms(sqlite.runningP99)} ms** — ${tick(sqlite.runningP99 <= 50)}.`,
    );
  }
  if (postgres?.s) {
    const p = postgres.s;
    lines.push(
      boss
        ? `- vidfleet on PostgreSQL, throughput ≥ 2× pg-boss: **${ratio(p.throughput / boss.throughput)}** (${p.throughput.toFixed(0)} vs ${boss.throughput.toFixed(0)} tasks/s) — ${tick(p.throughput >= 2 * boss.throughput)}.`
        : '- vidfleet on PostgreSQL, throughput ≥ 2× pg-boss: pg-boss not measured.',
      `- vidfleet on PostgreSQL, submit→running p50 ≤ 10 ms: **${ms(p.runningP50)} ms** — ${tick(p.runningP50 <= 10)}; p99 ≤ 50 ms: **${ms(p.runningP99)} ms** — ${tick(p.runningP99 <= 50)}.`,
    );
  } else if (postgres) {
    lines.push(`- vidfleet on PostgreSQL (throughput ≥ 2× pg-boss${boss ? `, i.e. ≥ ${(2 * boss.throughput).toFixed(0)} tasks/s here` : ''}; p50 ≤ 10 ms, p99 ≤ 50 ms): **TODO, not measured** (see the table).`);
  }
  const cpuRows = results.filter((r) => r.rounds.some((x) => x.cpu));
  if (cpuRows.length > 0) {
    lines.push(
      '',
      'CPU spent during the throughput runs, in ms of CPU per task (from /proc; the rounds used above), and how busy the machine was — the machine has ' +
        `${cpuRows[0]!.rounds.find((x) => x.cpu)?.cpu?.cores ?? '?'} cores shared by every process here:`,
      '',
      '| system | coordinator / broker | workers (all) | client | bench harness | total | machine busy | CPU-s outside the bench |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of cpuRows) {
      const withCpu = usedRounds(r).filter((x) => x.cpu);
      const tasks = withCpu.length * TASKS;
      const sum = (match: (role: string) => boolean): number =>
        withCpu.reduce((a, x) => a + x.cpu!.roles.filter((u) => match(u.role)).reduce((b, u) => b + u.seconds, 0), 0);
      const per = (seconds: number): string => ((seconds * 1000) / tasks).toFixed(3);
      const broker = sum((role) => role.startsWith('coordinator') || role === 'Redis' || role === 'PostgreSQL');
      const workers = sum((role) => role === 'workers');
      const client = sum((role) => role === 'client');
      const harness = sum((role) => role === 'bench harness');
      const separateHarness = withCpu.some((x) => x.cpu!.roles.some((u) => u.role === 'bench harness'));
      const busy = withCpu.reduce((a, x) => a + x.cpu!.machineBusySeconds, 0);
      const capacity = withCpu.reduce((a, x) => a + x.cpu!.wallSeconds * x.cpu!.cores, 0);
      const other = withCpu.reduce((a, x) => a + x.cpu!.otherSeconds, 0);
      const brokerLabel = r.id.startsWith('vidfleet') ? (r.id.endsWith('postgres') ? 'coordinator + PostgreSQL' : 'coordinator') : r.id === 'bullmq' ? 'Redis' : 'PostgreSQL';
      lines.push(
        `| ${r.label} | ${per(broker)} (${brokerLabel}) | ${per(workers)} | ${per(client)} | ${separateHarness ? per(harness) : 'in coordinator'} | ${per(broker + workers + client + harness)} | ${((100 * busy) / capacity).toFixed(0)}% | ${other.toFixed(1)} |`,
      );
    }
  }
  if (busyRuns.length > 0) lines.push('', `**Caution:** the machine was busy with other work when these runs started, so their numbers are low: ${busyRuns.join('; ')}.`);
  lines.push('', 'Where each start time comes from:', '');
  for (const r of results) lines.push(`- ${r.label}: ${r.clockNote}`);
  lines.push(
    '',
    `Notes: every system keeps finished tasks (BullMQ's default keeps completed jobs; pg-boss keeps them until archiving; vidfleet keeps rows and events). BullMQ workers block on Redis and wake at once; pg-boss workers poll (pg-boss 10 has no notification), each of the ${FLEET.concurrency} fetch loops per process at its minimum interval of 0.5 s, so with one task per fetch its ceiling here is ${FLEET.workers} × ${FLEET.concurrency} / 0.5 s = ${(FLEET.workers * FLEET.concurrency * 2).toFixed(0)} tasks/s and a pickup waits up to 0.5 s. vidfleet's workers long-poll \`/claim\` (a submit wakes one waiting claim of a worker that runs its kind) and report "started" and "completed" in batches that ride on their next claim or go together on \`/acks\`; the coordinator applies a batch in one transaction (each report fenced, with its event), and on SQLite submits, claims and batches that arrive together share one commit. The bench harness (completion polling) runs in the coordinator's process for vidfleet and reads the store in-process, one primary-key read per finished job.`,
  );
  return lines.join('\n');
}

function depthSection(reports: DepthReport[], skippedPg: string | null): string {
  const lines: string[] = [
    'Store called directly (no HTTP): pending noop jobs created with `createJob`, then `claimTasks` timed at each depth — 1 task per claim and a batch per claim — with the queue topped back up (untimed) after every claim so the depth holds.',
    '',
    '| store | pending tasks | claim 1: p50 / p99 ms | claim batch: p50 / p99 ms (per claim) | createJob rate while filling |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const rep of reports) {
    for (const row of rep.rows) {
      lines.push(
        `| ${rep.store} | ${row.depth.toLocaleString('en')} | ${row.one.p50.toFixed(3)} / ${row.one.p99.toFixed(3)} | ${row.batch.size}: ${row.batch.p50.toFixed(3)} / ${row.batch.p99.toFixed(3)} | ${Math.round(row.fillRate).toLocaleString('en')} jobs/s |`,
      );
    }
    for (const s of rep.skipped) lines.push(`| ${rep.store} | ${s} | skipped | | |`);
  }
  lines.push('');
  for (const rep of reports) {
    const first = rep.rows[0];
    const last = rep.rows[rep.rows.length - 1];
    if (first && last && last !== first) {
      const growth = last.one.p50 / first.one.p50;
      lines.push(
        `- ${rep.store}: claim p50 at ${last.depth.toLocaleString('en')} is ${growth.toFixed(2)}× the p50 at ${first.depth.toLocaleString('en')} (goal: flat) — ${growth <= 1.5 ? 'flat' : '**grows**'}${rep.note ? `; ${rep.note}` : ''}. ${rep.rows[0]!.one.n} timed claims per cell.`,
      );
    }
  }
  if (skippedPg) lines.push(`- PostgreSQL: ${skippedPg}`);
  return lines.join('\n');
}

async function preflight(): Promise<{ redis: string | null; pg: string | null }> {
  let redis: string | null = null;
  let pgProblem: string | null = null;
  const r = new Redis({ host: REDIS_HOST, port: Number(REDIS_PORT), lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    redis = `Redis at ${values.redis} did not answer (${(err as Error).message})`;
  } finally {
    r.disconnect();
  }
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    pgProblem = `PostgreSQL at ${PG_URL} did not answer (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
  return { redis, pg: pgProblem };
}

async function main(): Promise<void> {
  const sections: string[] = [];
  const { redis, pg: pgProblem } = await preflight();
  if (!values['skip-dispatch']) {
    const wanted = values.systems!.split(',').map((s) => s.trim()).filter(Boolean);
    const runnable = wanted.filter((id) => !((id === 'bullmq' && redis) || ((id === 'pgboss' || id.startsWith('vidfleet-postgres')) && pgProblem)));
    const results = await runDispatch(runnable);
    for (const id of wanted.filter((w) => !runnable.includes(w))) {
      const label = makeSystem(id).label;
      results.push({ id, label, clockNote: '(not run)', rounds: [], missing: (id === 'bullmq' ? redis : pgProblem) ?? 'not run', todo: false });
    }
    sections.push(`### Dispatch: throughput and latency\n\n${dispatchSection(results)}`);
  }
  if (!values['skip-claim']) {
    const depths = (s: string): number[] => s.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b);
    const options = {
      samples: int('claim-samples', 10),
      batchSize: int('claim-batch', 1),
      budgetMs: int('claim-budget-s', 10) * 1000,
      log,
    };
    await waitForQuietMachine({ maxBusyCores: 0.25, timeoutMs: int('quiet-wait-s', 0) * 1000, log });
    const reports: DepthReport[] = [await measureSqliteClaimDepth({ ...options, depths: depths(values['claim-depths']!), fillConcurrency: 1 })];
    let skippedPg: string | null = null;
    if (pgProblem) {
      skippedPg = `not measured: ${pgProblem}`;
    } else {
      const pgReport = await measurePostgresClaimDepth(PG_URL, `vidfleet_bench_claim_${RUN_ID}`, { ...options, depths: depths(values['claim-pg-depths']!), fillConcurrency: 16 });
      if (pgReport) reports.push(pgReport);
      else skippedPg = 'TODO: not measured — this build has no PostgresStore (src/store/postgres/index.ts) yet.';
    }
    sections.push(`### Claim latency by queue depth\n\n${depthSection(reports, skippedPg)}`);
  }
  sections.push(`${machineLine()}; ${await serviceVersions()}; measured ${new Date().toISOString().slice(0, 10)}. Command: \`npm run bench:dispatch${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`.`);
  const body = sections.join('\n\n');
  if (values['dry-run']) log('--dry-run: bench/RESULTS.md left unchanged');
  else await writeResultsSection('dispatch', 'bench/dispatch — no-op tasks: vidfleet vs BullMQ vs pg-boss', body);
  process.stdout.write(body + '\n');
}

async function serviceVersions(): Promise<string> {
  const parts: string[] = [];
  const r = new Redis({ host: REDIS_HOST, port: Number(REDIS_PORT), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    parts.push(`Redis ${/redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? '?'}`);
  } catch {
    parts.push('Redis ?');
  } finally {
    r.disconnect();
  }
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    parts.push(`PostgreSQL ${(await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v.split(' ')[0] ?? '?'}`);
  } catch {
    parts.push('PostgreSQL ?');
  } finally {
    await client.end().catch(() => undefined);
  }
  const versions = await Promise.all(['bullmq', 'pg-boss', 'better-sqlite3'].map(async (p) => `${p} ${await packageVersion(p)}`));
  return [...parts, ...versions].join(', ');
}

async function packageVersion(name: string): Promise<string> {
  try {
    const path = fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(await readFile(path, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
