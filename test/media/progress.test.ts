import { describe, expect, it } from 'vitest';
import { createProgressParser, parseClock, snapshotFromBlock, type ProgressSnapshot } from '../../src/media/progress.js';
import { ffmpegBinary, runProcess } from '../../src/media/process.js';

// Captured verbatim from `ffmpeg 5.1 -f lavfi -i testsrc2=...:duration=3 -c:v libx264 -progress pipe:1 -nostats -f null -`.
const CAPTURED = `frame=1
fps=0.00
stream_0_0_q=0.0
bitrate=N/A
total_size=N/A
out_time_us=0
out_time_ms=0
out_time=00:00:00.000000
dup_frames=0
drop_frames=0
speed=N/A
progress=continue
frame=75
fps=0.00
stream_0_0_q=-1.0
bitrate=N/A
total_size=N/A
out_time_us=3000000
out_time_ms=3000000
out_time=00:00:03.000000
dup_frames=0
drop_frames=0
speed= 126x
progress=end
`;

function parseAll(chunks: string[], duration?: number): ProgressSnapshot[] {
  const seen: ProgressSnapshot[] = [];
  const parser = createProgressParser((s) => seen.push(s), { duration });
  for (const c of chunks) parser.push(c);
  parser.end();
  return seen;
}

describe('ffmpeg -progress parser', () => {
  it('parses captured output into one snapshot per block', () => {
    const [first, last, ...rest] = parseAll([CAPTURED], 6);
    expect(rest).toHaveLength(0);
    expect(first).toMatchObject({ frame: 1, outTime: 0, speed: null, fps: 0, done: false, progress: 0 });
    expect(last).toMatchObject({ frame: 75, outTime: 3, speed: 126, done: true, progress: 1 });
    expect(last?.raw.bitrate).toBe('N/A');
  });

  it('gives the same snapshots however the stream is split, even mid-line', () => {
    const whole = parseAll([CAPTURED], 6);
    for (let cut = 1; cut < CAPTURED.length; cut++) {
      expect(parseAll([CAPTURED.slice(0, cut), CAPTURED.slice(cut)], 6)).toEqual(whole);
    }
    expect(parseAll(CAPTURED.split(''), 6)).toEqual(whole);
    expect(parseAll([CAPTURED.replace(/\n/g, '\r\n')], 6)).toEqual(whole);
  });

  it('turns out_time into a fraction of the duration, capped at 1', () => {
    const half = snapshotFromBlock({ out_time_us: '1500000', progress: 'continue' }, 3);
    expect(half.progress).toBeCloseTo(0.5);
    expect(snapshotFromBlock({ out_time_us: '9000000', progress: 'continue' }, 3).progress).toBe(1);
    expect(snapshotFromBlock({ out_time_us: '1500000', progress: 'continue' }).progress).toBeNull();
    expect(snapshotFromBlock({ progress: 'end' }).progress).toBe(1);
  });

  it('treats N/A and the negative start-of-stream values as unknown', () => {
    const s = snapshotFromBlock({ out_time_us: 'N/A', out_time_ms: '-9223372036854775807', out_time: '-577014:32:22.775808', speed: 'N/A', fps: 'N/A', progress: 'continue' }, 10);
    expect(s).toMatchObject({ outTime: null, speed: null, fps: null, progress: null });
  });

  it('falls back from out_time_us to out_time_ms (also microseconds) and then to out_time', () => {
    expect(snapshotFromBlock({ out_time_ms: '2500000', progress: 'continue' }).outTime).toBe(2.5);
    expect(snapshotFromBlock({ out_time: '00:01:02.500000', progress: 'continue' }).outTime).toBe(62.5);
    expect(parseClock('01:00:00.25')).toBe(3600.25);
    expect(parseClock('garbage')).toBeNull();
  });

  it('reads fractional speed and drops a block cut off before its progress= line', () => {
    const seen = parseAll(['frame=3\nspeed=1.5x\nprogress=continue\nframe=4\nspe']);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.speed).toBe(1.5);
  });

  it('follows a real ffmpeg run to the end', async () => {
    const seen: ProgressSnapshot[] = [];
    const parser = createProgressParser((s) => seen.push(s), { duration: 4 });
    const res = await runProcess(
      ffmpegBinary(),
      ['-hide_banner', '-nostdin', '-v', 'error', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.05', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=4', '-c:v', 'mpeg4', '-f', 'null', '-'],
      { onStdout: (t) => parser.push(t) },
    );
    parser.end();
    expect(res.exitCode).toBe(0);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(parser.last).toMatchObject({ done: true, progress: 1, frame: 100 });
    expect(parser.last?.outTime).toBeCloseTo(4, 1);
    const times = seen.map((s) => s.outTime ?? 0);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });
});
