// The worker's half of the raw ffmpeg kind's path rules: after the syntax checks shared with the
// coordinator (protocol/ffmpeg-args.ts), each logical path is mapped onto this worker's mount
// and checked on disk. realpath() catches symbolic links that lead out of a mount (for an output,
// its directory's realpath); outputs may only go to $out or a mount configured writable. The
// result is the argument vector ffmpeg really gets, with our own protocol and demuxer
// whitelists in front of every input so nothing read can pull in a file we did not vet.
import { lstat, mkdir, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import {
  analyseFfmpegArgs, DEVICE_FORMATS, INPUT_VARIABLE, OUT_VARIABLE, REFUSED_DEMUXERS, VidfleetError,
  type AnalysedArg, type FfmpegTool, type LogicalPath,
} from '../protocol/index.js';

export interface MountPoint {
  /** Absolute directory on this worker (its realpath). */
  path: string;
  /** Jobs may write here; otherwise only $out takes outputs. */
  writable: boolean;
}

export interface PathPolicy {
  mounts: ReadonlyMap<string, MountPoint>;
  /** The attempt's private output directory ($out); it exists. */
  outDir: string;
  /** The job input as resolved for this worker (local path or URL), when the job has one. */
  input?: string;
  allowProtocols: readonly string[];
  /** Demuxer names ffmpeg may use for inputs (see demuxerWhitelist). */
  demuxers: readonly string[];
}

export interface MappedFile {
  index: number;
  logical: string;
  /** What ffmpeg gets: a real path or a URL. */
  real: string;
  isUrl: boolean;
}

export interface MappedCommand {
  /** Arguments as given, with logical paths replaced (no injected options). */
  args: string[];
  analysed: AnalysedArg[];
  inputs: MappedFile[];
  outputs: MappedFile[];
  /** Real roots and their variables, longest first, to show logical names in messages. */
  roots: Array<[string, string]>;
}

/** Network protocols each allowable protocol needs underneath it. */
const PROTOCOL_STACK: Readonly<Record<string, readonly string[]>> = {
  http: ['http', 'tcp'], https: ['https', 'tls', 'tcp'], rtmp: ['rtmp', 'tcp'], rtmps: ['rtmps', 'tls', 'tcp'], rtsp: ['rtsp', 'rtp', 'udp', 'tcp'],
  srt: ['srt'], udp: ['udp'], tcp: ['tcp'], rtp: ['rtp', 'udp'], tls: ['tls', 'tcp'],
};

/** The demuxers an input may use: all of this ffmpeg's, less those that open other files and the capture devices. */
export function demuxerWhitelist(all: readonly string[]): string[] {
  return [...new Set(all)].filter((d) => !REFUSED_DEMUXERS[d] && (d === 'lavfi' || !DEVICE_FORMATS.has(d)));
}

/** The -protocol_whitelist for one input: files only, plus the stack of its own URL protocol. */
export function protocolWhitelist(url: string | null): string {
  const scheme = url ? /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() : undefined;
  return [...new Set(['file', ...(scheme ? (PROTOCOL_STACK[scheme] ?? []) : [])])].join(',');
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function named(index: number, text: string): string {
  return `args[${index}] ${JSON.stringify(text)}`;
}

const GLOB_CHARS = /[*?[\]{}]/;

/** Symbolic links in a directory that lead outside root (a %d pattern may open any entry). */
async function escapingLinks(dir: string, root: string): Promise<string | null> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isSymbolicLink()) continue;
    const target = await realpath(join(dir, entry.name)).catch(() => null);
    if (target === null || !inside(root, target)) return entry.name;
  }
  return null;
}

interface Root {
  variable: string;
  path: string;
  writable: boolean;
}

async function rootFor(arg: AnalysedArg, path: LogicalPath, policy: PathPolicy): Promise<Root> {
  if (path.variable === OUT_VARIABLE) return { variable: OUT_VARIABLE, path: await realpath(policy.outDir), writable: true };
  const mount = policy.mounts.get(path.variable);
  if (!mount) {
    const known = [OUT_VARIABLE, ...policy.mounts.keys()].map((v) => `$${v}`).join(', ');
    throw new VidfleetError(
      'MOUNT_MISSING',
      `${named(arg.index, arg.text)}: this worker has no mount for $${path.variable} (it has ${known}). Start a worker with --mount ${path.variable}=/its/directory, or run the job where one is.`,
      { details: { variable: path.variable, argument: arg.index } },
    );
  }
  return { variable: path.variable, path: await realpath(mount.path), writable: mount.writable };
}

async function mapInput(arg: AnalysedArg, path: LogicalPath, root: Root): Promise<string> {
  const full = join(root.path, path.rest);
  let real: string;
  try {
    real = await realpath(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') throw new VidfleetError('INPUT_UNREADABLE', `${named(arg.index, arg.text)}: permission denied on this worker.`, { retryable: false });
    const last = path.rest.split('/').pop() ?? '';
    // Not a file: an image sequence pattern (img_%03d.png) is fine when its directory is.
    if (code === 'ENOENT' && last.includes('%') && !GLOB_CHARS.test(path.rest) && !path.rest.split('/').slice(0, -1).some((s) => s.includes('%'))) {
      const dir = await realpath(dirname(full)).catch(() => null);
      if (dir === null) throw new VidfleetError('INPUT_NOT_FOUND', `${named(arg.index, arg.text)}: its directory does not exist on this worker.`);
      if (!inside(root.path, dir)) throw escape(arg, root);
      const link = await escapingLinks(dir, root.path);
      if (link) throw escape(arg, root, `the directory holds a symbolic link "${link}" that leads outside $${root.variable}`);
      return join(dir, last);
    }
    throw new VidfleetError('INPUT_NOT_FOUND', `${named(arg.index, arg.text)} does not exist on this worker (under $${root.variable}).`, { details: { argument: arg.index } });
  }
  if (!inside(root.path, real)) throw escape(arg, root);
  if (!(await stat(real)).isFile()) throw new VidfleetError('PATH_NOT_ALLOWED', `${named(arg.index, arg.text)} is not a regular file; give the path of a file.`);
  return real;
}

async function mapOutput(arg: AnalysedArg, path: LogicalPath, root: Root): Promise<string> {
  if (!root.writable) {
    throw new VidfleetError('PATH_NOT_ALLOWED', `${named(arg.index, arg.text)}: $${root.variable} is read-only on this worker; write outputs under $out (they become artifacts).`);
  }
  if (!path.rest) throw new VidfleetError('PATH_NOT_ALLOWED', `${named(arg.index, arg.text)} names the directory itself; name a file in it, e.g. $${root.variable}/result.mp4.`);
  const full = join(root.path, path.rest);
  // $out is fresh and ours: make the directories it names (hls/, frames/…). Mounts must have them.
  if (root.variable === OUT_VARIABLE) await mkdir(dirname(full), { recursive: true });
  const dir = await realpath(dirname(full)).catch(() => null);
  if (dir === null) throw new VidfleetError('PATH_NOT_ALLOWED', `${named(arg.index, arg.text)}: its directory does not exist on this worker.`);
  if (!inside(root.path, dir)) throw escape(arg, root);
  const file = join(dir, full.slice(dirname(full).length + 1));
  const existing = await lstat(file).catch(() => null);
  if (existing?.isSymbolicLink()) {
    const target = await realpath(file).catch(() => null);
    if (target === null || !inside(root.path, target)) throw escape(arg, root);
  }
  if (file.includes('%')) {
    const link = await escapingLinks(dir, root.path);
    if (link) throw escape(arg, root, `the directory holds a symbolic link "${link}" that leads outside $${root.variable}`);
  }
  return file;
}

function escape(arg: AnalysedArg, root: Root, why = `it resolves (through a symbolic link) to a place outside $${root.variable}`): VidfleetError {
  return new VidfleetError('PATH_ESCAPE', `${named(arg.index, arg.text)} is refused: ${why}.`, { details: { argument: arg.index, variable: root.variable } });
}

/** Checks the arguments against this worker's mounts and maps them; throws a catalog error naming the argument. */
export async function mapFfmpegArgs(tool: FfmpegTool, args: readonly string[], policy: PathPolicy): Promise<MappedCommand> {
  const analysis = analyseFfmpegArgs(tool, args, { allowProtocols: policy.allowProtocols });
  const first = analysis.problems[0];
  if (first) throw new VidfleetError('PATH_NOT_ALLOWED', `${named(first.index, args[first.index] ?? '')}: ${first.message}.`, { details: { argument: first.index } });
  const mapped = [...args];
  const inputs: MappedFile[] = [];
  const outputs: MappedFile[] = [];
  const roots = new Map<string, string>();
  for (const arg of analysis.args) {
    const isInput = arg.role === 'input' || arg.role === 'input-file';
    const isOutput = arg.role === 'output' || arg.role === 'output-file';
    if (!isInput && !isOutput) continue;
    let real: string;
    let isUrl = false;
    if (arg.protocol) {
      real = arg.text;
      isUrl = true;
    } else if (arg.path?.variable === INPUT_VARIABLE) {
      if (!policy.input) throw new VidfleetError('INVALID_INPUT', `${named(arg.index, arg.text)}: the job has no input to read; submit it with one.`);
      real = policy.input;
      isUrl = /^[a-z][a-z0-9+.-]*:/i.test(real);
    } else if (arg.path) {
      const root = await rootFor(arg, arg.path, policy);
      roots.set(root.path, `$${root.variable}`);
      real = isOutput ? await mapOutput(arg, arg.path, root) : await mapInput(arg, arg.path, root);
    } else {
      real = arg.text; // "-" for -f null
    }
    mapped[arg.index] = real;
    (isInput ? inputs : outputs).push({ index: arg.index, logical: arg.text, real, isUrl });
  }
  return { args: mapped, analysed: analysis.args, inputs, outputs, roots: [...roots.entries()].sort((a, b) => b[0].length - a[0].length) };
}

/**
 * The full argument vector: our fixed options first, then the user's arguments with a protocol
 * and demuxer whitelist in front of every input (they are per-input options in ffmpeg).
 */
export function buildArgv(tool: FfmpegTool, command: MappedCommand, demuxers: readonly string[]): string[] {
  const formats = demuxers.join(',');
  const guard = (index: number): string[] => {
    const input = command.inputs.find((f) => f.index === index);
    return ['-protocol_whitelist', protocolWhitelist(input?.isUrl ? input.real : null), '-format_whitelist', formats];
  };
  if (tool === 'ffprobe') {
    const input = command.analysed.find((a) => a.role === 'input' || (a.role === 'graph' && a.option === 'i'));
    return ['-hide_banner', ...guard(input?.index ?? -1), ...command.args];
  }
  const overwrite = command.analysed.some((a) => a.role === 'option' && (a.text === '-y' || a.text === '-n'));
  const argv = ['-hide_banner', '-nostdin', '-nostats', '-progress', 'pipe:1', ...(overwrite ? [] : ['-n'])];
  const inputOptions = new Set(command.analysed.filter((a) => a.role === 'option' && a.option === 'i').map((a) => a.index));
  for (const [i, text] of command.args.entries()) {
    if (inputOptions.has(i)) argv.push(...guard(i + 1));
    argv.push(text);
  }
  return argv;
}

/** Replaces this worker's real directories with their variables, for messages and logs. */
export function showLogical(text: string, command: Pick<MappedCommand, 'roots'>): string {
  let shown = text;
  for (const [root, variable] of command.roots) if (root.length > 1) shown = shown.split(root).join(variable);
  return shown;
}
