// CPU accounting for bench/dispatch (Linux /proc): how much CPU each role (coordinator or
// broker, workers, client) spent over a measured run, and how busy the whole machine was, so the
// report can say where the time went and whether something outside the bench was competing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux this runs on

export interface Role {
  role: string;
  pids: number[];
  /** Also every process with this command name, including ones started during the window. */
  comm?: string;
}

export interface CpuUse {
  role: string;
  /** CPU seconds used during the window. */
  seconds: number;
}

export interface CpuReport {
  wallSeconds: number;
  roles: CpuUse[];
  /** CPU seconds the whole machine was busy (all cores). */
  machineBusySeconds: number;
  /** Busy time not accounted for by the roles: other processes, kernel work, the profiler. */
  otherSeconds: number;
  cores: number;
}

export const cpuAccountingAvailable = (): boolean => existsSync('/proc/stat');

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // gone
  }
}

function machineTicks(): { busy: number; cores: number } {
  const lines = readFileSync('/proc/stat', 'utf8').split('\n');
  const [, ...values] = (lines[0] ?? '').trim().split(/\s+/);
  const n = values.map(Number);
  const idle = (n[3] ?? 0) + (n[4] ?? 0); // idle + iowait
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0); // user … steal
  return { busy: total - idle, cores: lines.filter((l) => /^cpu\d+ /.test(l)).length };
}

/** Pids of running processes whose command name (comm) is `name`. */
export function pidsByName(name: string): number[] {
  if (!cpuAccountingAvailable()) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Starts a window; `stop()` answers the CPU each role used since. */
export function startCpuWindow(roles: Role[]): { stop(): CpuReport } | null {
  if (!cpuAccountingAvailable()) return null;
  const t0 = Date.now();
  const m0 = machineTicks();
  const pidsOf = (r: Role): number[] => [...new Set([...r.pids, ...(r.comm ? pidsByName(r.comm) : [])])];
  const before = roles.map((r) => new Map(pidsOf(r).map((pid) => [pid, processTicks(pid)])));
  return {
    stop() {
      const m1 = machineTicks();
      const used = roles.map((r, i) => ({
        role: r.role,
        // A process started during the window counts from zero.
        seconds: pidsOf(r).reduce((sum, pid) => sum + Math.max(0, processTicks(pid) - (before[i]!.get(pid) ?? 0)), 0) / TICKS_PER_SECOND,
      }));
      const machineBusySeconds = (m1.busy - m0.busy) / TICKS_PER_SECOND;
      return {
        wallSeconds: (Date.now() - t0) / 1000,
        roles: used,
        machineBusySeconds,
        otherSeconds: Math.max(0, machineBusySeconds - used.reduce((a, u) => a + u.seconds, 0)),
        cores: m1.cores,
      };
    },
  };
}

/** Cores' worth of CPU the machine is busy over `ms` (all processes). */
export async function machineBusyCores(ms: number): Promise<number> {
  if (!cpuAccountingAvailable()) return 0;
  const a = machineTicks();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = machineTicks();
  return (b.busy - a.busy) / TICKS_PER_SECOND / (ms / 1000);
}

/**
 * Waits (bounded) until the machine is nearly idle, so a run is not measured while something
 * else (a test suite, a build) takes the cores. Answers the busy level it settled on, or the last
 * seen when it gave up.
 */
export async function waitForQuietMachine(options: { maxBusyCores: number; timeoutMs: number; log: (line: string) => void }): Promise<{ quiet: boolean; busyCores: number }> {
  const deadline = Date.now() + options.timeoutMs;
  let announced = false;
  for (;;) {
    const busyCores = await machineBusyCores(2_000);
    if (busyCores <= options.maxBusyCores) return { quiet: true, busyCores };
    if (Date.now() >= deadline) {
      options.log(`  machine still busy (${busyCores.toFixed(2)} cores in use) after ${Math.round(options.timeoutMs / 1000)} s; measuring anyway`);
      return { quiet: false, busyCores };
    }
    if (!announced) options.log(`  machine busy (${busyCores.toFixed(2)} cores in use by other processes); waiting up to ${Math.round(options.timeoutMs / 1000)} s for it to settle…`);
    announced = true;
  }
}
