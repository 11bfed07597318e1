// Command-line parsing: one option table per command, parsed strictly (an unknown flag is a
// usage error, not silently ignored).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './output.js';

export type Parsed = { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  coordinator: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** Where a coordinator keeps blobs: a directory or s3://bucket/prefix (see docs/storage.md). */
const STORAGE: Options = { storage: { type: 'string' }, 's3-endpoint': { type: 'string' }, 's3-region': { type: 'string' }, 's3-direct-downloads': { type: 'boolean' } };

export const COMMAND_OPTIONS: Record<string, Options> = {
  up: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, db: { type: 'string' }, 'db-schema': { type: 'string' }, mqtt: { type: 'string' }, 'mqtt-prefix': { type: 'string' }, workers: { type: 'string' }, concurrency: { type: 'string' }, ...STORAGE },
  coordinator: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, db: { type: 'string' }, 'db-schema': { type: 'string' }, mqtt: { type: 'string' }, 'mqtt-prefix': { type: 'string' }, 'lease-ms': { type: 'string' }, 'max-upload': { type: 'string' }, 'retention-days': { type: 'string' }, ...STORAGE },
  worker: {
    concurrency: { type: 'string' }, name: { type: 'string' }, kinds: { type: 'string' }, tag: { type: 'string', multiple: true }, 'drain-timeout': { type: 'string' },
    mount: { type: 'string', multiple: true }, 'allow-protocol': { type: 'string', multiple: true },
  },
  submit: { param: { type: 'string', multiple: true, short: 'p' }, require: { type: 'string', multiple: true }, priority: { type: 'string' }, wait: { type: 'boolean' }, 'idempotency-key': { type: 'string' } },
  status: {},
  jobs: { status: { type: 'string' }, kind: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
  get: { output: { type: 'string', short: 'o' } },
  logs: { follow: { type: 'boolean', short: 'f' }, task: { type: 'string' } },
  watch: {},
  cancel: {},
  keys: { role: { type: 'string' }, name: { type: 'string' }, data: { type: 'string' }, db: { type: 'string' }, 'db-schema': { type: 'string' } },
  demo: { output: { type: 'string', short: 'o' }, data: { type: 'string' }, port: { type: 'string' } },
};

export function parseCommandArgs(command: string, argv: string[]): Parsed {
  if (!Object.hasOwn(COMMAND_OPTIONS, command)) throw new UsageError(`unknown command "${command}"`);
  const options = { ...COMMON, ...COMMAND_OPTIONS[command] };
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as Parsed;
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}

export function intOption(args: Parsed, name: string, fallback: number): number {
  const raw = args.values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${String(raw)}"`);
  return n;
}

/** `--param width=320 --param format=webp` → { width: 320, format: "webp" }; values are JSON when they parse as JSON. */
export function parseParams(pairs: string[] | undefined): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param expects key=value, got "${pair}"`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // a plain string
    }
    params[key] = value;
  }
  return params;
}

export function requirePositional(args: Parsed, index: number, what: string): string {
  const value = args.positionals[index];
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}
