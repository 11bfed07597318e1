// What a vidfleet transcode job's tasks say about where its time went, and the speed-up model
// built from those measured task times: a list-scheduling simulation of the job's graph on N
// workers, and the closed-form estimate
//   T(N) ≈ start + plan + max(⌈K/N⌉ × mean task, longest task) + max(⌈R/N⌉ × mean merge, longest merge) + package
// (K = chunk encodes + the audio task, R = renditions).
import type { Job, Task } from '../../src/protocol/index.js';

export interface TaskTime {
  name: string;
  kind: string;
  workerId: string | null;
  /** Seconds after the submit. */
  start: number;
  end: number;
  duration: number;
  result: Record<string, unknown> | null;
}

export interface Stat {
  n: number;
  mean: number;
  max: number;
  sum: number;
}

export const stat = (xs: number[]): Stat => ({
  n: xs.length,
  mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN,
  max: xs.length ? Math.max(...xs) : NaN,
  sum: xs.reduce((a, b) => a + b, 0),
});

export interface RenditionBreakdown {
  name: string;
  chunks: Stat;
  /** ffmpeg time inside the chunk tasks (the worker's encodeSeconds). */
  chunkEncode: Stat;
  chunkBytes: number;
  merge: number;
  /** The concat copy inside the merge task (its mergeSeconds). */
  mergeConcat: number;
  mergedBytes: number;
}

export interface Breakdown {
  tasks: TaskTime[];
  /** Submit → plan task started (dispatch). */
  toPlanStart: number;
  plan: number;
  /** Plan finished → first encode started (graph expansion + claims). */
  planToEncode: number;
  audio: number;
  audioBytes: number;
  renditions: RenditionBreakdown[];
  package: number;
  /** Last merge finished → package started. */
  mergeToPackage: number;
  /** Package finished (coordinator) → the client saw the job complete. */
  packageToClient: number;
  jobSeconds: number;
  /** Median gap between a worker finishing a task and starting its next one while work was ready. */
  handoff: number;
  /** Time per stage on the path that ended last: plan, the last encode before the last merge, that merge, package. */
  observedPath: { stage: string; seconds: number }[];
  /** The graph's critical path with unlimited workers: dispatch + plan + max(chunk or audio, per rendition + its merge) + package. */
  dagCriticalPath: number;
  /** Sum of the encode tasks (video + audio), seconds. */
  encodeWork: number;
  longestEncode: TaskTime;
}

const secondsBetween = (a: string | null, b: string | null): number => (a && b ? (Date.parse(b) - Date.parse(a)) / 1000 : NaN);

/**
 * The video tasks that make rung `r`'s chunks: `video/{r}/{i}` (one task per chunk × rung), or
 * every `video/{i}` (the default: one task per chunk encodes the whole ladder).
 */
export function chunkTaskNames(names: readonly string[], r: string): string[] {
  const own = names.filter((n) => n.startsWith(`video/${r}/`));
  return own.length ? own : names.filter((n) => /^video\/\d+$/.test(n));
}

/** A chunk task's report for rung `r`: its result, or its entry for `r` when it encoded several. */
function reportFor(result: unknown, r: string): Record<string, unknown> | null {
  if (Array.isArray(result)) return (result as Record<string, unknown>[]).find((x) => x.rendition === r) ?? null;
  return (result ?? null) as Record<string, unknown> | null;
}

export function breakdown(job: Job, submittedAtMs: number, seenDoneAtMs: number, renditions: string[]): Breakdown {
  const at = (iso: string | null): number => (iso ? (Date.parse(iso) - submittedAtMs) / 1000 : NaN);
  const tasks: TaskTime[] = (job.tasks ?? []).map((t: Task) => ({
    name: t.name ?? t.kind,
    kind: t.kind,
    workerId: t.workerId,
    start: at(t.startedAt),
    end: at(t.finishedAt),
    duration: secondsBetween(t.startedAt, t.finishedAt),
    result: (t.result ?? null) as Record<string, unknown> | null,
  }));
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const get = (name: string): TaskTime => {
    const t = byName.get(name);
    if (!t) throw new Error(`job ${job.id} has no task ${name}`);
    return t;
  };
  const plan = get('plan');
  const pkg = get('package');
  const audio = byName.get('audio') ?? null;
  const videos = tasks.filter((t) => t.kind === 'transcode.video');
  const rs: RenditionBreakdown[] = renditions.map((name) => {
    const mineNames = new Set(chunkTaskNames(videos.map((t) => t.name), name));
    const mine = videos.filter((t) => mineNames.has(t.name));
    const num = (t: TaskTime, k: string): number => Number(reportFor(t.result, name)?.[k] ?? t.result?.[k] ?? NaN);
    const merge = get(`merge/${name}`);
    return {
      name,
      chunks: stat(mine.map((t) => t.duration)),
      chunkEncode: stat(mine.map((t) => num(t, 'encodeSeconds'))),
      chunkBytes: mine.reduce((a, t) => a + num(t, 'bytes'), 0),
      merge: merge.duration,
      mergeConcat: num(merge, 'mergeSeconds'),
      mergedBytes: num(merge, 'bytes'),
    };
  });
  const merges = renditions.map((r) => get(`merge/${r}`));
  const encodes = [...videos, ...(audio ? [audio] : [])];
  const lastMerge = merges.reduce((a, b) => (b.end > a.end ? b : a));
  const lastMergeName = lastMerge.name.slice('merge/'.length);
  const feedingNames = new Set(chunkTaskNames(videos.map((t) => t.name), lastMergeName));
  const feeding = encodes.filter((t) => t.name === 'audio' || feedingNames.has(t.name)).reduce((a, b) => (b.end > a.end ? b : a));
  const firstEncodeStart = Math.min(...encodes.map((t) => t.start));

  // Hand-off: a worker's next start after its previous end, counted only when the next task
  // was already runnable (its dependencies done) when the previous one ended.
  const deps = dependencies(tasks.map((t) => t.name), renditions);
  const gaps: number[] = [];
  const byWorker = new Map<string, TaskTime[]>();
  for (const t of tasks) if (t.workerId) byWorker.set(t.workerId, [...(byWorker.get(t.workerId) ?? []), t]);
  for (const list of byWorker.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      const next = list[i]!;
      const readyAt = Math.max(0, ...(deps.get(next.name) ?? []).map((d) => byName.get(d)?.end ?? 0));
      if (readyAt <= prev.end) gaps.push(next.start - prev.end);
    }
  }
  gaps.sort((a, b) => a - b);
  const handoff = gaps.length ? gaps[Math.floor(gaps.length / 2)]! : 0;

  const dagCriticalPath =
    plan.start + plan.duration + (firstEncodeStart - plan.end) +
    Math.max(...rs.map((r, i) => Math.max(r.chunks.max, audio?.duration ?? 0) + merges[i]!.duration)) +
    (pkg.start - lastMerge.end) + pkg.duration;

  return {
    tasks,
    toPlanStart: plan.start,
    plan: plan.duration,
    planToEncode: firstEncodeStart - plan.end,
    audio: audio?.duration ?? 0,
    audioBytes: audio ? Number(audio.result?.bytes ?? NaN) : 0,
    renditions: rs,
    package: pkg.duration,
    mergeToPackage: pkg.start - lastMerge.end,
    packageToClient: (seenDoneAtMs - submittedAtMs) / 1000 - pkg.end,
    jobSeconds: (seenDoneAtMs - submittedAtMs) / 1000,
    handoff,
    observedPath: [
      { stage: 'submit → plan starts', seconds: plan.start },
      { stage: 'plan (probe + packet scan)', seconds: plan.duration },
      { stage: `plan ends → ${feeding.name} ends (queueing for a worker + its encode)`, seconds: feeding.end - plan.end },
      { stage: `→ ${lastMerge.name} ends`, seconds: lastMerge.end - feeding.end },
      { stage: '→ package ends', seconds: pkg.end - lastMerge.end },
      { stage: '→ client sees the job completed', seconds: (seenDoneAtMs - submittedAtMs) / 1000 - pkg.end },
    ],
    dagCriticalPath,
    encodeWork: encodes.reduce((a, t) => a + t.duration, 0),
    longestEncode: encodes.reduce((a, b) => (b.duration > a.duration ? b : a)),
  };
}

/** The transcode graph's edges (src/coordinator/planner/transcode.ts), by task name. */
export function dependencies(names: string[], renditions: string[]): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  const hasAudio = names.includes('audio');
  for (const n of names) {
    if (n === 'plan') deps.set(n, []);
    else if (n === 'audio' || n.startsWith('video/')) deps.set(n, ['plan']);
    else if (n.startsWith('merge/')) {
      const r = n.slice('merge/'.length);
      deps.set(n, [...chunkTaskNames(names, r), ...(hasAudio ? ['audio'] : [])]);
    } else if (n === 'package') deps.set(n, renditions.map((r) => `merge/${r}`));
  }
  return deps;
}

/** The coordinator's hand-out order: creation order (audio, then per rung its chunks and merge, then package). */
export function handOutOrder(names: string[], renditions: string[]): string[] {
  const ladder = names.filter((n) => /^video\/\d+$/.test(n)).sort();
  if (ladder.length) return ['plan', ...(names.includes('audio') ? ['audio'] : []), ...ladder, ...renditions.map((r) => `merge/${r}`), 'package'];
  const videos = (r: string): string[] => names.filter((n) => n.startsWith(`video/${r}/`)).sort();
  return [
    'plan',
    ...(names.includes('audio') ? ['audio'] : []),
    ...renditions.flatMap((r) => [...videos(r), `merge/${r}`]),
    'package',
  ];
}

/**
 * Event simulation of the graph on N single-task workers: the first worker to free up takes the
 * first task in hand-out order whose dependencies are done (or the first to become runnable),
 * paying the measured hand-off; durations are the measured task durations.
 */
export function simulate(b: Breakdown, renditions: string[], workers: number): number {
  const names = b.tasks.map((t) => t.name);
  const deps = dependencies(names, renditions);
  const order = handOutOrder(names, renditions);
  const duration = new Map(b.tasks.map((t) => [t.name, t.duration]));
  const finish = new Map<string, number>();
  const freeAt = Array.from({ length: workers }, () => 0);
  const pending = [...order];
  // The plan: submit → its start is the measured dispatch.
  while (pending.length) {
    const w = freeAt.indexOf(Math.min(...freeAt));
    const tw = freeAt[w]!;
    const startable = pending.filter((n) => (deps.get(n) ?? []).every((d) => finish.has(d)));
    const readyAt = (n: string): number => Math.max(0, ...(deps.get(n) ?? []).map((d) => finish.get(d)!));
    const now = startable.filter((n) => readyAt(n) <= tw);
    const pick = now[0] ?? startable.reduce((a, n) => (readyAt(n) < readyAt(a) ? n : a));
    // A task runnable at once goes after the worker's hand-off; one that becomes runnable later
    // waits for what makes it runnable: the graph expansion after the plan (measured), the
    // coordinator noticing the last merge (measured), or a plain hand-off.
    const wake = pick === 'package' ? b.mergeToPackage : (deps.get(pick) ?? []).includes('plan') ? b.planToEncode : b.handoff;
    const start = pick === 'plan' ? b.toPlanStart : Math.max(tw + b.handoff, readyAt(pick) + wake);
    finish.set(pick, start + duration.get(pick)!);
    freeAt[w] = start + duration.get(pick)!;
    pending.splice(pending.indexOf(pick), 1);
  }
  return Math.max(...finish.values()) + b.packageToClient;
}

/** The closed-form estimate (see the header). */
export function formula(b: Breakdown, workers: number): number {
  const encodes = b.tasks.filter((t) => t.kind === 'transcode.video' || t.kind === 'transcode.audio');
  const merges = b.tasks.filter((t) => t.kind === 'transcode.merge');
  const e = stat(encodes.map((t) => t.duration));
  const m = stat(merges.map((t) => t.duration));
  return (
    b.toPlanStart + b.plan + b.planToEncode +
    Math.max(Math.ceil(e.n / workers) * e.mean, e.max) +
    Math.max(Math.ceil(m.n / workers) * m.mean, m.max) +
    b.mergeToPackage + b.package + b.packageToClient
  );
}
