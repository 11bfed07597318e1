// Shared by the benchmarks: statistics and the RESULTS.md writer. Each benchmark owns one
// section of bench/RESULTS.md, delimited by HTML comments, and rewrites only that section.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface Summary {
  n: number;
  median: number;
  p90: number;
  mean: number;
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { n: sorted.length, median, p90: at(0.9), mean: sorted.reduce((a, b) => a + b, 0) / sorted.length };
}

export function machineLine(): string {
  return `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`;
}

export async function ffmpegVersionLine(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('ffmpeg', ['-hide_banner', '-version']);
    return stdout.split('\n')[0] ?? 'ffmpeg';
  } catch {
    return 'ffmpeg version unknown';
  }
}

/** bench/RESULTS.md, found from the source tree or from dist/bench/. */
function resultsPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'bench', 'RESULTS.md');
    dir = resolve(dir, '..');
  }
  throw new Error('cannot find the repository root from ' + import.meta.url);
}

export async function writeResultsSection(id: string, title: string, body: string): Promise<void> {
  const path = resultsPath();
  const header = '# Benchmark results\n\nEach section is written by its benchmark (`npm run bench:<name>`); numbers are from the run named in it.\n';
  const current = existsSync(path) ? await readFile(path, 'utf8') : header;
  const begin = `<!-- bench:${id}:begin -->`;
  const end = `<!-- bench:${id}:end -->`;
  const block = `${begin}\n## ${title}\n\n${body}\n${end}`;
  const pattern = new RegExp(`${begin}[\\s\\S]*?${end}`);
  const next = pattern.test(current) ? current.replace(pattern, block) : `${current.trimEnd()}\n\n${block}\n`;
  await writeFile(path, next);
}
