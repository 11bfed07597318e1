// The real-world corpus through the whole system (HTTP, SQLite, worker, ffmpeg): every decodable
// file probes and thumbnails; rotated phone clips give portrait thumbnails; the broken files
// end failed with a clear message instead of crashing anything or hanging in running, except
// that a probe's health check reports a damaged file that opens instead of failing.
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileUri, type Job, type ProbeReport, type ProbeResult, type ThumbnailResult } from '../../src/protocol/index.js';
import { startTestFleet, type TestFleet } from '../helpers/fleet.js';
import { HAVE_REAL_MEDIA, realMediaFiles } from '../helpers/shared-media.js';

const { good, bad } = realMediaFiles();
/** Phone clips whose display matrix turns the picture by 90°: their thumbnails must be portrait. */
const ROTATED = ['03_', '04_', '05_', '06_'];
/** Broken beyond use (see MANIFEST); bad_04 is decodable and only has odd timestamps. */
const UNUSABLE = bad.filter((f) => !basename(f).startsWith('bad_04'));

let fleet: TestFleet;
beforeAll(async () => {
  if (HAVE_REAL_MEDIA) fleet = await startTestFleet({ workers: 1, concurrency: 2 });
});
afterAll(async () => {
  await fleet?.stop();
});

async function run(kind: string, path: string, params: Record<string, unknown> = {}): Promise<Job> {
  const job = await fleet.client.submitJob({ kind, input: fileUri(path), params });
  return fleet.client.getJob(job.id, 60);
}

describe.skipIf(!HAVE_REAL_MEDIA)('real-world corpus end to end', () => {
  it.each(good.map((f) => [basename(f), f]))('probe + thumbnail: %s', async (name, path) => {
    const [probe, thumb] = await Promise.all([run('probe', path), run('thumbnail', path, { width: 240 })]);
    expect(probe.status, JSON.stringify(probe.error)).toBe('completed');
    expect(thumb.status, JSON.stringify(thumb.error)).toBe('completed');
    const report = probe.result as ProbeReport;
    expect(report.primaryVideo).not.toBeNull();
    const result = thumb.result as ThumbnailResult;
    expect(result.width).toBe(240);
    const video = report.streams[report.primaryVideo!]!.video!;
    if (ROTATED.some((p) => name.startsWith(p))) {
      expect(video.rotation % 180).toBe(90);
      expect(result.height).toBeGreaterThan(result.width);
    }
    const artifacts = await fleet.client.listArtifacts(thumb.id);
    expect(artifacts.map((a) => a.name)).toEqual([result.artifact]);
    expect(artifacts[0]!.size).toBeGreaterThan(200);
  });

  it.each(UNUSABLE.map((f) => [basename(f), f]))('fails cleanly: %s', async (_name, path) => {
    const thumb = await run('thumbnail', path);
    expect(thumb.status).toBe('failed');
    expect(['NOT_A_VIDEO', 'INPUT_CORRUPT']).toContain(thumb.error?.code);
    expect(thumb.error?.message).toContain(path);
    expect(thumb.tasks?.[0]?.attempt).toBe(1); // permanent: not retried
  });

  it('probe extras end to end: a damaged file that opens is a health result; one that does not fails as usual', async () => {
    const byPrefix = (prefix: string) => good.concat(bad).find((f) => basename(f).startsWith(prefix))!;
    const [long, cut, stub] = await Promise.all([
      run('probe', byPrefix('25_'), { keyframes: true, timing: true, histogram: { samples: 4 }, health: true }),
      run('probe', byPrefix('bad_02'), { health: true }),
      run('probe', byPrefix('bad_01'), { health: true }),
    ]);
    expect(long.status, JSON.stringify(long.error)).toBe('completed');
    const report = long.result as ProbeResult;
    expect(report.keyframes).toMatchObject({ count: 140, fixedInterval: true });
    expect(report.timing).toMatchObject({ vfr: false, frames: 1394 });
    expect(report.histogram?.frames).toBe(4);
    expect(report.health).toMatchObject({ healthy: true, errorCount: 0 });
    expect(cut.status).toBe('completed');
    expect((cut.result as ProbeResult).health?.healthy).toBe(false);
    expect(stub.status).toBe('failed');
    expect(stub.error?.code).toBe('INPUT_CORRUPT');
  });

  it('bad_04 (frames stamped 1-2 ms apart) still probes and thumbnails', async () => {
    const path = bad.find((f) => basename(f).startsWith('bad_04'))!;
    const [probe, thumb] = await Promise.all([run('probe', path), run('thumbnail', path)]);
    expect(probe.status).toBe('completed');
    expect((probe.result as ProbeReport).warnings.join(' ')).toMatch(/implausible/);
    expect(thumb.status).toBe('completed');
  });
});
