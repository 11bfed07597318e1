// The grouping and live state behind `vidfleet watch`.
import { describe, expect, it } from 'vitest';
import { TaskGroups, describeGroup, groupOf } from '../../src/cli/task-groups.js';
import type { FeedEvent, Job, Task } from '../../src/protocol/index.js';

const task = (id: string, name: string | null, kind = 'transcode.video'): Task =>
  ({ id, jobId: 'job_1', kind, name, waitingOn: 0, status: 'pending', attempt: 0, maxAttempts: 3, workerId: null, progress: 0, leaseExpiresAt: null, runAfter: null, error: null, result: null, createdAt: '', startedAt: null, finishedAt: null, requires: [], progressDetail: null }) as Task;
const job = (tasks: Task[]): Job => ({ id: 'job_1', kind: 'transcode', input: 'x', params: {}, priority: 0, status: 'running', progress: 0, error: null, result: null, createdAt: '', updatedAt: '', finishedAt: null, tasks });
let n = 0;
const ev = (type: string, taskId: string | null, data: Record<string, unknown> = {}): FeedEvent => ({ cursor: String(++n), id: n, type, jobId: 'job_1', taskId, workerId: null, data, createdAt: '' });

describe('task groups', () => {
  it('groups graph tasks by stage and rung', () => {
    expect(groupOf({ name: 'video/720p/00003', kind: 'k' })).toBe('video/720p');
    expect(groupOf({ name: 'video/00003', kind: 'k' })).toBe('video');
    expect(groupOf({ name: 'merge/720p', kind: 'k' })).toBe('merge');
    expect(groupOf({ name: 'plan', kind: 'k' })).toBe('plan');
    expect(groupOf({ name: null, kind: 'thumbnail' })).toBe('thumbnail');
  });

  it('replays a job event stream into per-group progress, speed and ETA', () => {
    const g = new TaskGroups();
    g.load(job([task('p', 'plan', 'transcode.plan')]), false);
    g.apply(ev('task.claimed', 'p'));
    g.apply(ev('task.completed', 'p'));
    expect(g.apply(ev('job.expanded', 'p'))).toBe(true);
    g.load(job([task('p', 'plan', 'transcode.plan'), task('a', 'video/00000'), task('b', 'video/00001'), task('m', 'merge/720p', 'transcode.merge')]), false);
    g.apply(ev('task.claimed', 'a'));
    g.apply(ev('task.progress', 'a', { progress: 0.5, detail: { fps: 40, speed: 1.6, etaSeconds: 12 } }));
    g.apply(ev('task.claimed', 'b'));
    g.apply(ev('task.progress', 'b', { progress: 0.25, detail: { fps: 20, speed: 0.8, etaSeconds: 30 } }));
    const video = g.view().find((v) => v.name === 'video')!;
    expect(video).toMatchObject({ total: 2, done: 0, running: 2, fraction: 0.375, fps: 60, etaSeconds: 30 });
    expect(video.speed).toBeCloseTo(1.2);
    expect(describeGroup(video)).toBe('0/2 done, 2 running, 60 fps 1.2x ETA 0:30');
    g.apply(ev('task.retrying', 'b'));
    g.apply(ev('task.completed', 'a'));
    expect(g.view().find((v) => v.name === 'video')).toMatchObject({ done: 1, running: 0, fraction: 0.5, fps: null });
    expect(g.view().map((v) => v.name)).toEqual(['plan', 'video', 'merge']);
  });

  it('shows a finished job as read when its events are gone', () => {
    const done = task('a', 'video/00000');
    done.status = 'completed';
    const g = new TaskGroups();
    g.load(job([done]), true);
    expect(g.view()[0]).toMatchObject({ done: 1, fraction: 1 });
  });
});
