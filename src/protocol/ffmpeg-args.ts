// What the raw `ffmpeg` kind's arguments mean, read without touching any disk: which argument is
// an option, an option's value, an input, an output or a filtergraph, which logical paths
// ($media/clip.mp4, $out/hls/index.m3u8, $input) they name, and which of them vidfleet refuses.
// The coordinator runs this at submission (a bad request is a 400 there); the worker runs it
// again with its own mounts and protocol settings before mapping paths (media/logical-paths.ts).
//
// The rule is conservative: a value that is not a logical path must not look like a path or a
// URL anywhere inside it (absolute paths, "~", "..", protocol prefixes such as concat: or
// file:), because ffmpeg options, muxers, codecs and filters open files in ways no table of
// options can list completely. ffmpeg also runs in the attempt's private output directory, so a
// relative name that slips through can only land there.
import { filtersOf, REFUSED_FILTERS } from './ffmpeg-graph.js';

export type FfmpegTool = 'ffmpeg' | 'ffprobe';

/** `$name` spellings: lower-case letters, digits and "_", starting with a letter. */
export const VARIABLE_NAME = /^[a-z][a-z0-9_]{0,31}$/;
/** Always there: the attempt's private output directory, uploaded as artifacts afterwards. */
export const OUT_VARIABLE = 'out';
/** The job's input, resolved by the worker (a local file or a URL); only as a whole argument. */
export const INPUT_VARIABLE = 'input';

/** Protocols a worker may opt into (--allow-protocol); all others are never allowed. */
export const ALLOWABLE_PROTOCOLS = ['http', 'https', 'rtmp', 'rtmps', 'rtsp', 'srt', 'udp', 'tcp', 'rtp', 'tls'] as const;
/** ffmpeg protocol names (5.x-7.x): a value starting with one of these and ":" is a URL, not a file. */
const PROTOCOLS = new Set([
  ...ALLOWABLE_PROTOCOLS, 'async', 'bluray', 'cache', 'concat', 'concatf', 'crypto', 'data', 'fd', 'ffrtmpcrypt', 'ffrtmphttp', 'file', 'ftp', 'gopher',
  'gophers', 'hls', 'httpproxy', 'icecast', 'ipfs', 'ipns', 'librist', 'libsrt', 'libssh', 'libzmq', 'md5', 'mmsh', 'mmst', 'pipe', 'prompeg', 'rist',
  'rtmpe', 'rtmpt', 'rtmpte', 'rtmpts', 'sctp', 'sftp', 'smb', 'srtp', 'subfile', 'tee', 'udplite', 'unix', 'zmq', 'amqp', 'android_content', 'dvd',
]);

/** Demuxers that open other files or devices named inside their input, so logical paths cannot contain them. */
export const REFUSED_DEMUXERS: Readonly<Record<string, string>> = {
  concat: 'reads a list of other files to open', hls: 'opens the segment URLs listed in a playlist', applehttp: 'opens the segment URLs listed in a playlist',
  dash: 'opens the segment URLs listed in a manifest', imf: 'opens the asset files listed in its composition', sdp: 'opens network streams',
  rtp: 'opens network streams', rtsp: 'opens network streams', avisynth: 'runs a script', vapoursynth: 'runs a script',
};
/** Capture and playback devices (libavdevice): never from a job, lavfi excepted (its graph is vetted). */
export const DEVICE_FORMATS = new Set([
  'alsa', 'android_camera', 'audiotoolbox', 'avfoundation', 'bktr', 'caca', 'decklink', 'dshow', 'fbdev', 'gdigrab', 'iec61883', 'jack', 'kmsgrab',
  'libcdio', 'libdc1394', 'openal', 'opengl', 'oss', 'pulse', 'sdl', 'sdl2', 'sndio', 'v4l2', 'video4linux2', 'vfwcap', 'x11grab', 'xcbgrab', 'xv',
]);

/** ffmpeg options without a value (5.1); any other option takes exactly one. "-noX" negates X. */
const FFMPEG_FLAGS = new Set([
  'y', 'n', 'ignore_unknown', 'stats', 'stdin', 'hide_banner', 'copy_unknown', 'recast_media', 'benchmark', 'benchmark_all', 'dump', 'hex', 'copyts',
  'start_at_zero', 'xerror', 'debug_ts', 'psnr', 'vstats', 'qphist', 're', 'shortest', 'bitexact', 'copyinkf', 'copypriorss', 'autorotate', 'autoscale',
  'vn', 'an', 'sn', 'dn', 'accurate_seek', 'find_stream_info', 'fix_sub_duration', 'auto_conversion_filters', 'force_fps', 'report',
]);
const FFPROBE_FLAGS = new Set([
  'show_format', 'show_streams', 'show_packets', 'show_frames', 'show_data', 'show_error', 'show_programs', 'show_chapters', 'show_private_data',
  'show_program_version', 'show_library_versions', 'show_versions', 'show_pixel_formats', 'count_frames', 'count_packets', 'bitexact', 'hide_banner',
  'pretty', 'unit', 'prefix', 'byte_binary_prefix', 'sexagesimal', 'private', 'report', 'find_stream_info',
]);

const REFUSED_OPTIONS: Readonly<Record<string, string>> = (() => {
  const t: Record<string, string> = {
    progress: 'vidfleet reads ffmpeg progress itself (-progress pipe:1)',
    stats: 'vidfleet runs ffmpeg with -nostats and reports progress itself',
    stdin: 'ffmpeg runs without standard input',
    filter_script: 'the filtergraph would come from a file vidfleet cannot vet; give it inline with -vf/-af/-filter',
    filter_complex_script: 'the filtergraph would come from a file vidfleet cannot vet; give it inline with -filter_complex',
    sdp_file: 'it writes a file for network streaming',
    protocol_whitelist: 'vidfleet sets the allowed protocols itself', protocol_blacklist: 'vidfleet sets the allowed protocols itself',
    format_whitelist: 'vidfleet sets the allowed formats itself',
    enable_drefs: 'it lets the MOV demuxer open files referenced inside the input', use_absolute_path: 'it lets the MOV demuxer open absolute paths',
    hls_key_info_file: 'the key info file names further files vidfleet cannot vet', safe: 'it only concerns the concat demuxer, which is refused',
    pre: 'presets are looked up in directories of the worker', vpre: 'presets are looked up in directories of the worker',
    apre: 'presets are looked up in directories of the worker', spre: 'presets are looked up in directories of the worker',
    o: 'ffprobe output is returned as the job result; do not redirect it',
  };
  for (const info of ['L', 'h', '?', 'help', '-help', 'version', 'buildconf', 'formats', 'muxers', 'demuxers', 'devices', 'codecs', 'decoders', 'encoders', 'bsfs', 'protocols', 'filters', 'pix_fmts', 'layouts', 'sample_fmts', 'dispositions', 'colors', 'sources', 'sinks', 'hwaccels']) {
    t[info] = 'it only prints information about this ffmpeg build';
  }
  return t;
})();

const GRAPH_OPTIONS = new Set(['vf', 'af', 'filter', 'lavfi', 'filter_complex']);
/** Options whose value is a file ffmpeg reads. */
const INPUT_FILE_OPTIONS = new Set(['attach', 'fpre']);
/** Options whose value is a file (or file prefix/pattern) ffmpeg writes. */
const OUTPUT_FILE_OPTIONS = new Set(['vstats_file', 'passlogfile', 'dump_attachment', 'hls_segment_filename', 'hls_fmp4_init_filename', 'segment_list']);
/** Values that are plain text for the output's metadata: never opened, so not scanned. */
const TEXT_OPTIONS = new Set(['metadata', 'program']);

export interface LogicalPath {
  variable: string;
  /** The part after "$variable/", '' for the variable alone. */
  rest: string;
}

export type ArgRole = 'option' | 'value' | 'input' | 'output' | 'input-file' | 'output-file' | 'graph';

export interface AnalysedArg {
  index: number;
  text: string;
  role: ArgRole;
  /** Option name (without "-" and stream specifier) for options and their values. */
  option?: string;
  /** The format forced with -f for this input or output, if any. */
  format?: string;
  /** Set when the argument is a logical path. */
  path?: LogicalPath;
  /** Set when the argument is a URL with an allowable protocol. */
  protocol?: string;
}

export interface ArgProblem {
  index: number;
  message: string;
}

export interface AnalyseOptions {
  /**
   * Protocols this worker allows for inputs and outputs. 'any-allowable' at submission: the
   * coordinator does not know which worker runs the task, so only never-allowed ones fail there.
   */
  allowProtocols: readonly string[] | 'any-allowable';
}

export interface Analysis {
  args: AnalysedArg[];
  problems: ArgProblem[];
}

/** `$media/a/b.mp4` → { variable: 'media', rest: 'a/b.mp4' }; null when it does not start with "$". */
export function splitLogicalPath(text: string): LogicalPath | null {
  const m = /^\$([^/]*)(?:\/(.*))?$/s.exec(text);
  return m ? { variable: m[1] ?? '', rest: m[2] ?? '' } : null;
}

/** Why a logical path is malformed (syntax only), or null. */
export function logicalPathProblem(path: LogicalPath, text: string): string | null {
  if (!VARIABLE_NAME.test(path.variable)) return `"${text}" does not start with a variable: write $name/… with a lower-case name (e.g. $media/clip.mp4 or $out/result.mp4)`;
  if (path.variable === INPUT_VARIABLE && path.rest !== '') return '$input is the job input itself and has no sub-paths; use it alone';
  if (text.includes('\0')) return 'it contains a NUL character';
  const segments = path.rest.split('/');
  if (segments.some((s) => s === '..')) return `"${text}" contains a ".." segment; paths must stay inside $${path.variable}`;
  if (path.rest.startsWith('/')) return `"${text}" has an empty segment after $${path.variable}`;
  return null;
}

/** The protocol a value starts with ("concat:…", "http://…"), if it names a known ffmpeg protocol. */
export function protocolOf(text: string): string | null {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(text);
  const name = m?.[1]?.toLowerCase();
  return name && PROTOCOLS.has(name) ? name : null;
}

/**
 * Why free text (an option value, filter arguments) may not be handed to ffmpeg, or null. Looks
 * at every token between separators, since ffmpeg and its filters split values at ":", "=", ","
 * and friends and may open any piece as a file.
 */
export function textProblem(text: string): string | null {
  if (text.includes('\0')) return 'it contains a NUL character';
  if (/\$[a-z]/i.test(text)) return 'logical paths ($name/…) are only accepted as a whole argument: the value of -i, an output, or a file option such as -passlogfile';
  const protocol = /(?:^|[^a-z0-9+.-])([a-z][a-z0-9+.-]*):/gi;
  for (const m of text.matchAll(protocol)) {
    const name = m[1]!.toLowerCase();
    if (PROTOCOLS.has(name)) return `it names the ${name}: protocol, which could open something vidfleet cannot vet`;
  }
  for (const token of text.split(/[=:,;|\s'"\\()[\]]+/)) {
    if (token.startsWith('/')) return `"${token}" is an absolute path; name files with logical paths such as $media/… or $out/…`;
    if (token.startsWith('~')) return `"${token}" refers to a home directory; name files with logical paths such as $media/…`;
    if (token.split('/').includes('..')) return `"${token}" contains a ".." segment`;
  }
  return null;
}

function protocolAllowed(protocol: string, options: AnalyseOptions): boolean {
  const allowable = (ALLOWABLE_PROTOCOLS as readonly string[]).includes(protocol);
  if (options.allowProtocols === 'any-allowable') return allowable;
  return allowable && options.allowProtocols.includes(protocol);
}

function protocolRefusal(protocol: string, inOrOut: boolean): string {
  if (!(ALLOWABLE_PROTOCOLS as readonly string[]).includes(protocol)) {
    return `the ${protocol}: protocol is never allowed (it can open files or processes vidfleet cannot vet); name files with logical paths such as $media/…`;
  }
  if (!inOrOut) return `${protocol}: URLs are only accepted as an input (-i) or an output`;
  return `this worker does not allow ${protocol}: URLs; its operator can allow them with --allow-protocol ${protocol}`;
}

/** Base option name: "-c:v" → "c", "-metadata:s:a:0" → "metadata". */
function optionBase(arg: string): string {
  return arg.slice(1).split(':')[0] ?? '';
}

function isFlag(tool: FfmpegTool, base: string): boolean {
  const flags = tool === 'ffmpeg' ? FFMPEG_FLAGS : FFPROBE_FLAGS;
  return flags.has(base) || (base.startsWith('no') && flags.has(base.slice(2)));
}

/** Reads the arguments: roles, logical paths, and every problem found (in order). */
export function analyseFfmpegArgs(tool: FfmpegTool, args: readonly string[], options: AnalyseOptions): Analysis {
  const out: AnalysedArg[] = [];
  const problems: ArgProblem[] = [];
  const refuse = (index: number, message: string): void => void problems.push({ index, message });
  // Options apply to the next input (-i) or output (positional): the -f seen since the last file.
  let pendingFormat: string | undefined;

  const pathArg = (index: number, text: string, role: ArgRole, extra: Partial<AnalysedArg> = {}): void => {
    const entry: AnalysedArg = { index, text, role, ...extra };
    out.push(entry);
    const path = splitLogicalPath(text);
    if (path) {
      const problem = logicalPathProblem(path, text);
      if (problem) return refuse(index, problem);
      if (path.variable === INPUT_VARIABLE && role !== 'input') return refuse(index, '$input (the job input) can only be read with -i');
      entry.path = path;
      return;
    }
    const protocol = protocolOf(text);
    const inOrOut = role === 'input' || role === 'output';
    if (protocol && inOrOut && protocolAllowed(protocol, options)) {
      entry.protocol = protocol;
      return;
    }
    if (protocol) return refuse(index, protocolRefusal(protocol, inOrOut));
    if (text === '-' || text.startsWith('pipe:')) return refuse(index, 'standard input/output are reserved for vidfleet; read and write files with logical paths');
    if (text.startsWith('/')) return refuse(index, `"${text}" is an absolute path; name files with logical paths such as $media/… or $out/…`);
    refuse(index, `"${text}" is not a logical path; name files as $variable/path (e.g. $media/in.mkv, $out/out.mp4, or $input for the job input)`);
  };

  const graphArg = (index: number, text: string, option: string): void => {
    out.push({ index, text, role: 'graph', option });
    for (const filter of filtersOf(text)) {
      const why = REFUSED_FILTERS[filter.name.toLowerCase()];
      if (why) return refuse(index, `the ${filter.name} filter is not allowed: it ${why}`);
      const problem = filter.args === null ? null : textProblem(filter.args);
      if (problem) return refuse(index, `arguments of the ${filter.name} filter: ${problem}`);
    }
  };

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const isOption = arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg);
    if (!isOption) {
      // A positional: ffmpeg's outputs, ffprobe's input.
      if (tool === 'ffprobe' && pendingFormat === 'lavfi') graphArg(i, arg, 'i');
      else if (tool === 'ffprobe') pathArg(i, arg, 'input', pendingFormat ? { format: pendingFormat } : {});
      else if (arg === '-' && pendingFormat === 'null') out.push({ index: i, text: arg, role: 'output', format: 'null' });
      else {
        if (pendingFormat && (DEVICE_FORMATS.has(pendingFormat) || pendingFormat === 'tee')) refuse(i, `output format ${pendingFormat} is not allowed: it ${pendingFormat === 'tee' ? 'opens outputs named inside its argument' : 'is a playback device of the worker'}`);
        pathArg(i, arg, 'output', pendingFormat ? { format: pendingFormat } : {});
      }
      pendingFormat = undefined;
      continue;
    }
    const name = arg.slice(1);
    const base = optionBase(arg);
    out.push({ index: i, text: arg, role: 'option', option: base });
    if (name.startsWith('/')) {
      refuse(i, `${arg} reads the option's value from a file; give the value inline`);
      continue;
    }
    // "-noX" negates a flag X, so a refused flag stays refused in that spelling; -nostats and
    // -nostdin are what vidfleet passes anyway.
    const negated = base.startsWith('no') && base !== 'nostats' && base !== 'nostdin' ? REFUSED_OPTIONS[base.slice(2)] : undefined;
    const refused = REFUSED_OPTIONS[base] ?? negated;
    if (refused) refuse(i, `${arg} is not allowed: ${refused}`);
    if (isFlag(tool, base)) continue;
    const value = args[i + 1];
    if (value === undefined) {
      refuse(i, `${arg} needs a value`);
      break;
    }
    i++;
    if (base === 'i') {
      if (pendingFormat === 'lavfi') graphArg(i, value, 'i');
      else {
        if (pendingFormat && (REFUSED_DEMUXERS[pendingFormat] || DEVICE_FORMATS.has(pendingFormat))) {
          refuse(i, `input format ${pendingFormat} is not allowed: it ${REFUSED_DEMUXERS[pendingFormat] ?? 'reads a capture device of the worker'}`);
        }
        pathArg(i, value, 'input', pendingFormat ? { format: pendingFormat } : {});
      }
      pendingFormat = undefined;
    } else if (base === 'f') {
      pendingFormat = value.toLowerCase();
      out.push({ index: i, text: value, role: 'value', option: base });
    } else if (GRAPH_OPTIONS.has(base)) graphArg(i, value, base);
    else if (INPUT_FILE_OPTIONS.has(base)) pathArg(i, value, 'input-file', { option: base });
    else if (OUTPUT_FILE_OPTIONS.has(base)) pathArg(i, value, 'output-file', { option: base });
    else if (base === 'pattern_type' && !['sequence', 'none'].includes(value)) {
      refuse(i, `-pattern_type ${value} is not allowed: globbing could reach outside the mount; use sequence patterns such as img_%03d.png`);
    } else if (splitLogicalPath(value)) pathArg(i, value, 'input-file', { option: base });
    else {
      out.push({ index: i, text: value, role: 'value', option: base });
      const problem = TEXT_OPTIONS.has(base) ? null : textProblem(value);
      if (problem) refuse(i, `value of ${arg}: ${problem}`);
    }
  }
  return { args: out, problems };
}

/** The submission-time check (refine): shape and syntax, no mounts. Null when fine. */
export function ffmpegArgsProblem(tool: FfmpegTool, args: readonly string[], options: AnalyseOptions = { allowProtocols: 'any-allowable' }): string | null {
  const { args: analysed, problems } = analyseFfmpegArgs(tool, args, options);
  const first = problems[0];
  if (first) return `args[${first.index}] ${JSON.stringify(args[first.index])}: ${first.message}`;
  if (!analysed.some((a) => a.role === 'input' || (a.role === 'graph' && a.option === 'i'))) return 'args name no input; read one with -i (e.g. -i $media/in.mkv or -i $input)';
  if (tool === 'ffmpeg' && !analysed.some((a) => a.role === 'output')) return 'args name no output file; end them with one such as $out/result.mp4';
  return null;
}
