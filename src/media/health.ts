// A thorough health check: decode every video and audio packet (`-f null`) and collect what
// the demuxers and decoders complain about. ffmpeg runs with `-loglevel repeat+level+verbose`:
// `level` tags each line with its severity so errors are told from warnings without guessing
// from the wording, `repeat` keeps "Last message repeated N times" from hiding counts, and
// verbose adds the per-stream "N packets read; M frames decoded" summary at the end.
// The file being damaged is the result here, not a failure: only problems with reaching the
// input (network, permissions) or with this worker's ffmpeg throw.
import type { HealthMessage, HealthStream, ProbeHealth, ProbeReport } from '../protocol/index.js';
import { classifyFailure, matchRule, tidyFfmpegLine } from './errors.js';
import { createLineSplitter } from './lines.js';
import { ffmpegBinary, ffmpegInputArg, PROTOCOL_WHITELIST, runProcess } from './process.js';
import { createProgressParser } from './progress.js';

const MAX_LISTED = 50;
/** Distinct message shapes remembered; past this only the totals grow. */
const MAX_GROUPS = 500;

export interface LogLine {
  source: string | null;
  level: string;
  message: string;
}

/** "[h264 @ 0x55d…] [error] text" or "[warning] text" → parts; null for untagged lines. */
export function parseLogLine(line: string): LogLine | null {
  const m = /^(?:\[([^\]]*?)(?: @ 0x[0-9a-f]+)?\] )?\[(panic|fatal|error|warning|info|verbose|debug|trace)\] ?(.*)$/i.exec(line);
  if (!m) return null;
  return { source: m[1] ?? null, level: m[2]!.toLowerCase(), message: tidyFfmpegLine(m[3] ?? '') };
}

/**
 * Which list a message belongs to, or null for chatter. Two adjustments to ffmpeg's own level:
 * the null muxer's complaint about non-increasing dts is at error level but is about the
 * source's duplicate timestamps (corpus files 12 and 23 decode cleanly otherwise), so it is a
 * warning; ffmpeg's "corrupt decoded frame"/"corrupt input packet" are warnings but mean the
 * decoder or demuxer flagged damage, so they are errors.
 */
export function classifyLogLine(l: LogLine): 'error' | 'warning' | null {
  if (l.level === 'panic' || l.level === 'fatal' || l.level === 'error') {
    return /non monotonically increasing dts to muxer|Non-monotonous DTS/i.test(l.message) ? 'warning' : 'error';
  }
  if (l.level === 'warning') return /corrupt (decoded frame|input packet)|Packet corrupt/i.test(l.message) ? 'error' : 'warning';
  return null;
}

const STREAM_SUMMARY = /^Input stream #\d+:(\d+) \((\w+)\): (\d+) packets read \(\d+ bytes\);(?: (\d+) frames decoded)?/;

interface Group extends HealthMessage {
  order: number;
}

/** Collects ffmpeg's log lines into grouped messages and per-stream counts. */
export class HealthCollector {
  /** Media seconds decoded so far, from -progress; stamps the messages. */
  position: number | null = null;
  errorCount = 0;
  warningCount = 0;
  readonly streams: Array<Omit<HealthStream, 'expectedPackets'>> = [];
  /** Error-level lines as printed, for telling an unreachable input from a damaged one. */
  readonly fatalLines: string[] = [];
  private readonly groups = new Map<string, Group>();

  constructor(private readonly inputArg: string) {}

  line(text: string): void {
    const parsed = parseLogLine(text);
    if (!parsed) return;
    const summary = STREAM_SUMMARY.exec(parsed.message);
    if (summary) {
      this.streams.push({ index: Number(summary[1]), type: summary[2]!, packetsRead: Number(summary[3]), framesDecoded: Number(summary[4] ?? 0) });
      return;
    }
    const kind = classifyLogLine(parsed);
    if (!kind) return;
    this.add(kind, parsed.source, parsed.message);
    if (kind === 'error' && this.fatalLines.length < 200) this.fatalLines.push(`[${parsed.source ?? 'ffmpeg'}] ${parsed.message}`);
  }

  add(kind: 'error' | 'warning', source: string | null, message: string): void {
    if (kind === 'error') this.errorCount++;
    else this.warningCount++;
    // Repeats differ in numbers (MB positions, dts values, offsets) and in nothing else.
    const shape = message.split(this.inputArg).join('<input>').replace(/0x[0-9a-f]+|-?\d+(?:\.\d+)?/gi, '#');
    const key = `${kind}|${source ?? ''}|${shape}`;
    const seen = this.groups.get(key);
    if (seen) {
      seen.count++;
      seen.lastAt = this.position ?? seen.lastAt;
    } else if (this.groups.size < MAX_GROUPS) {
      this.groups.set(key, { level: kind, source, message, count: 1, firstAt: this.position, lastAt: this.position, order: this.groups.size });
    }
  }

  messages(kind: 'error' | 'warning'): HealthMessage[] {
    return [...this.groups.values()]
      .filter((g) => g.level === kind)
      .sort((a, b) => b.count - a.count || a.order - b.order)
      .slice(0, MAX_LISTED)
      .map(({ order: _order, ...m }) => m);
  }
}

export interface HealthOptions {
  signal?: AbortSignal;
  /** Fraction of the duration decoded (0..1), or null when the duration is unknown, with seconds decoded. */
  onProgress?: (fraction: number | null, seconds: number | null) => void;
  /** Each line ffmpeg reports while decoding (the task's live log). */
  onStderrLine?: (line: string) => void;
}

/** Codes that mean the input could not be reached or this ffmpeg cannot decode it: another attempt may do better. */
const NOT_THE_FILES_FAULT = new Set(['INPUT_NOT_FOUND', 'INPUT_UNREADABLE', 'INVALID_INPUT', 'FFMPEG_FAILED']);

/** Decodes the whole file; the probe report gives the duration and the packet counts to expect. */
export async function checkHealth(input: string, probe: ProbeReport, options: HealthOptions = {}): Promise<ProbeHealth> {
  const arg = ffmpegInputArg(input);
  const collector = new HealthCollector(arg);
  const video = probe.primaryVideo === null ? undefined : probe.streams[probe.primaryVideo];
  const duration = probe.duration ?? video?.duration ?? null;
  const progress = createProgressParser(
    (s) => {
      if (s.outTime !== null) collector.position = Number(s.outTime.toFixed(3));
      options.onProgress?.(s.progress, s.outTime);
    },
    { duration },
  );
  const stderr = createLineSplitter((l) => collector.line(l));
  // A stalled network read would otherwise hang the task until its run limit.
  const network = /^https?:/i.test(arg) ? ['-rw_timeout', '60000000'] : [];
  const args = [
    '-hide_banner', '-nostdin', '-loglevel', 'repeat+level+verbose', '-nostats', '-progress', 'pipe:1', '-stats_period', '0.2',
    ...network, '-protocol_whitelist', PROTOCOL_WHITELIST, '-i', arg,
    '-map', '0:v?', '-map', '0:a?', '-f', 'null', '-',
  ];
  const res = await runProcess(ffmpegBinary(), args, {
    signal: options.signal,
    // The stderr kept for errors is a small tail: the collector has seen every line.
    stderrHeadBytes: 1024,
    stderrTailBytes: 8 * 1024,
    onStdout: (t) => progress.push(t),
    onStderr: (t) => stderr.push(t),
    ...(options.onStderrLine && { onStderrLine: options.onStderrLine }),
  });
  progress.end();
  stderr.end();

  if (res.exitCode !== 0) {
    const hit = matchRule(collector.fatalLines.join('\n'), arg);
    if (hit && NOT_THE_FILES_FAULT.has(hit.rule.code)) {
      throw classifyFailure({ tool: 'ffmpeg', input, inputArg: arg, stderr: collector.fatalLines.join('\n'), exitCode: res.exitCode, action: 'could not decode' });
    }
  }

  const streams: HealthStream[] = collector.streams
    .filter((s) => s.type === 'video' || s.type === 'audio')
    .map((s) => ({ ...s, expectedPackets: probe.streams.find((p) => p.index === s.index)?.frames ?? null }));
  for (const s of streams) {
    // Audio priming and edit lists account for a packet or two.
    if (s.expectedPackets !== null && s.expectedPackets - s.packetsRead > Math.max(2, 0.01 * s.expectedPackets)) {
      collector.add('error', 'vidfleet', `Stream #${s.index} (${s.type}): the container lists ${s.expectedPackets} packets but only ${s.packetsRead} could be read; the file is cut short or its index points past the data.`);
    }
  }
  if (res.exitCode !== 0 && collector.errorCount === 0) {
    collector.add('error', 'vidfleet', `ffmpeg stopped with exit code ${res.exitCode ?? 'none'} before the end of the file.`);
  }
  return {
    healthy: collector.errorCount === 0,
    errors: collector.messages('error'),
    warnings: collector.messages('warning'),
    errorCount: collector.errorCount,
    warningCount: collector.warningCount,
    streams,
    decodedSeconds: collector.position,
    exitCode: res.exitCode,
  };
}
