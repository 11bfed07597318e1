// CPU accounting for bench/transcode, from Linux /proc.
//
// A process's utime+stime is its own CPU; cutime+cstime is the CPU of every child it has waited
// for (the kernel adds a child's total, its own children included, to the parent when the parent
// reaps it). So:
// - the single-pass ffmpeg is a child of this process: its exact CPU is the growth of this
//   process's cutime+cstime over the run (nothing else of ours exits meanwhile);
// - a vidfleet worker's ffmpeg/ffprobe children have all exited and been reaped by the time the
//   job is complete (a task settles only after its process is gone), so a worker's CPU including
//   its tools is the growth of its utime+stime+cutime+cstime, read while it is still running.
import { readFileSync } from 'node:fs';

export const TICKS_PER_SECOND = 100; // USER_HZ

export interface ProcTicks {
  /** utime + stime of the process itself (all its threads). */
  self: number;
  /** cutime + cstime: its reaped children, and theirs. */
  children: number;
}

export function procTicks(pid: number | 'self'): ProcTicks {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name start at field 3 (state): utime is field 14.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { self: f[11]! + f[12]!, children: f[13]! + f[14]! };
}

export const seconds = (ticks: number): number => ticks / TICKS_PER_SECOND;

/** Ticks the whole machine was busy (all cores): user … steal, without idle and iowait. */
export function machineBusyTicks(): number {
  const [, ...values] = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/);
  const n = values.map(Number);
  return n.slice(0, 8).reduce((a, b) => a + b, 0) - (n[3] ?? 0) - (n[4] ?? 0);
}

/** CPU use of a set of processes between two snapshots. */
export interface Snapshot {
  at: number;
  machine: number;
  procs: Map<number | 'self', ProcTicks>;
}

export function snapshot(pids: (number | 'self')[]): Snapshot {
  return { at: performance.now(), machine: machineBusyTicks(), procs: new Map(pids.map((p) => [p, procTicks(p)])) };
}

export interface Delta {
  wallSeconds: number;
  machineSeconds: number;
  per: Map<number | 'self', { self: number; children: number }>;
}

export function delta(a: Snapshot, b: Snapshot): Delta {
  const per = new Map<number | 'self', { self: number; children: number }>();
  for (const [pid, t1] of b.procs) {
    const t0 = a.procs.get(pid) ?? { self: 0, children: 0 };
    per.set(pid, { self: seconds(t1.self - t0.self), children: seconds(t1.children - t0.children) });
  }
  return { wallSeconds: (b.at - a.at) / 1000, machineSeconds: seconds(b.machine - a.machine), per };
}
