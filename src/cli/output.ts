// How the CLI talks to people and to scripts: human text on stdout, --json for machines,
// errors on stderr with the catalog code and the hint.
import { VidfleetError } from '../protocol/index.js';

export class UsageError extends Error {}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function println(line = ''): void {
  process.stdout.write(line + '\n');
}

export function reportError(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`vidfleet: ${err.message}\nRun \`vidfleet help\` for usage.\n`);
    return 2;
  }
  if (err instanceof VidfleetError) {
    process.stderr.write(`vidfleet: ${err.message} [${err.code}]\n  hint: ${err.hint}\n`);
    return 3;
  }
  process.stderr.write(`vidfleet: ${(err as Error)?.message ?? String(err)}\n`);
  return 3;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
