// Turns an ffmpeg/ffprobe failure (exit code + stderr) into a catalog error a person can act
// on. ffmpeg often prints the real cause first and a generic line last (e.g. "moov atom not
// found" then "Invalid data found when processing input"), so rules are tried in order of
// specificity over the whole log, not just the last line.
import { open } from 'node:fs/promises';
import { VidfleetError, type ErrorCode } from '../protocol/index.js';

interface Rule {
  code: ErrorCode;
  pattern: RegExp;
  /** What went wrong and what to do, in words; the matching ffmpeg line is appended. */
  explain: string;
  retryable?: boolean;
}

const RULES: readonly Rule[] = [
  {
    code: 'INPUT_NOT_FOUND',
    pattern: /No such file or directory|Server returned 404|HTTP error 404|Server returned 410/i,
    explain: 'the input does not exist; check the path or URL',
  },
  {
    code: 'INPUT_NOT_FOUND',
    pattern: /Is a directory/i,
    explain: 'the input is a directory, not a video file; give the path of a file',
  },
  {
    code: 'INVALID_INPUT',
    pattern: /not on whitelist|Protocol not found/i,
    explain: 'that kind of input is not allowed; give a local path or an http(s) URL',
  },
  {
    code: 'INPUT_UNREADABLE',
    pattern: /Permission denied|Server returned 40[13]|HTTP error 40[13]/i,
    explain: 'access to the input was refused; fix its permissions or credentials',
    retryable: false,
  },
  {
    code: 'INPUT_UNREADABLE',
    pattern:
      /Connection refused|Connection timed out|Connection reset|timed out|Network is unreachable|No route to host|Server returned 5\d\d|Server returned 5XX|HTTP error 5\d\d|Failed to resolve hostname|Temporary failure in name resolution|Name or service not known|I\/O error|Broken pipe|TLS|SSL/i,
    explain: 'the input could not be read over the network; it is retried, or check that the server is reachable',
  },
  {
    code: 'INPUT_CORRUPT',
    pattern:
      /moov atom not found|partial file|truncat|exceeds containing master element|EBML header parsing failed|Invalid NAL unit size|error while decoding|decode_slice_header error|corrupt|invalid frame dimensions|Packet mismatch|missing picture in access unit|no frame!|End of file/i,
    explain: 'the file is damaged or truncated; re-export or re-download it',
  },
  {
    code: 'NOT_A_VIDEO',
    pattern: /Cannot determine format of input stream|unspecified size|matches no streams|does not contain any stream|Output file #\d+ does not contain any stream/i,
    explain: 'the input has no decodable video stream',
  },
  {
    code: 'NOT_A_VIDEO',
    pattern: /Invalid data found when processing input|Unknown input format|could not find codec parameters/i,
    explain: 'the input is not a video ffmpeg recognises (wrong file, or an unsupported format)',
  },
  {
    code: 'FFMPEG_FAILED',
    pattern: /Decoder \(codec [^)]*\) not found|Unknown encoder|Encoder not found/i,
    explain: "this worker's ffmpeg lacks a needed codec; another worker may have it",
  },
];

/** Removes "@ 0x55d3..." from "[h264 @ 0x55d3...]" so messages are stable between runs. */
export function tidyFfmpegLine(line: string): string {
  return line.replace(/\s*@\s*0x[0-9a-f]+\]/gi, ']').trim();
}

function meaningfulLines(stderr: string): string[] {
  return stderr
    .split(/\r?\n/)
    .map(tidyFfmpegLine)
    .filter((l) => l && !/^\[\.\.\. \d+ characters of log skipped/.test(l) && !/Last message repeated/.test(l));
}

/** The last line ffmpeg printed that says something (for messages when no rule matched). */
export function lastFfmpegLine(stderr: string): string | null {
  const lines = meaningfulLines(stderr);
  return lines.length ? (lines[lines.length - 1] ?? null) : null;
}

export interface FailureContext {
  tool: string;
  /** What the user gave (not the file: URL we passed), for the message. */
  input: string;
  /** The input argument ffmpeg saw; masked before matching so a file named "truncated.mp4" proves nothing. */
  inputArg?: string;
  stderr: string;
  exitCode: number | null;
  /** "could not read" / "could not make a thumbnail of" … defaults to "failed on". */
  action?: string;
  /** First bytes of a local input (see readInputHead), to tell a cut MP4 from a non-MP4 named .mp4. */
  head?: Uint8Array;
}

const ISO_BMFF_BOXES = new Set(['ftyp', 'styp', 'moov', 'mdat', 'moof', 'sidx', 'free', 'skip', 'wide', 'pnot', 'uuid', 'meta', 'junk']);

/** Whether the bytes start like an MP4/MOV box ("....ftyp", "....mdat", …). */
export function looksLikeIsoBmff(head: Uint8Array): boolean {
  return head.length >= 8 && ISO_BMFF_BOXES.has(Buffer.from(head.subarray(4, 8)).toString('latin1'));
}

/** The first bytes of a local input, or undefined for URLs and unreadable paths. */
export async function readInputHead(inputArg: string, bytes = 64): Promise<Uint8Array | undefined> {
  if (!inputArg.startsWith('file:')) return undefined;
  try {
    const fh = await open(inputArg.slice('file:'.length), 'r');
    try {
      const buf = Buffer.alloc(bytes);
      const { bytesRead } = await fh.read(buf, 0, bytes, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

/** Finds the first rule (by priority) matching any line, and the line it matched. */
export function matchRule(stderr: string, inputArg?: string): { rule: Rule; line: string } | null {
  const lines = meaningfulLines(stderr);
  const masked = inputArg ? lines.map((l) => l.split(inputArg).join('<input>')) : lines;
  for (const rule of RULES) {
    const i = masked.findIndex((l) => rule.pattern.test(l));
    if (i !== -1) return { rule, line: lines[i] ?? '' };
  }
  return null;
}

export function classifyFailure(ctx: FailureContext): VidfleetError {
  const action = ctx.action ?? 'failed on';
  const hit = matchRule(ctx.stderr, ctx.inputArg);
  const details = { tool: ctx.tool, exitCode: ctx.exitCode, stderr: ctx.stderr.slice(-2000) };
  // ffmpeg falls back to the file name's extension: a text file called x.mp4 gets the MP4
  // demuxer and "moov atom not found", exactly like a cut download. The bytes tell them apart.
  if (hit?.rule.code === 'INPUT_CORRUPT' && /moov atom not found/.test(hit.line) && ctx.head) {
    if (ctx.head.length === 0) {
      return new VidfleetError('INPUT_CORRUPT', `${ctx.tool} ${action} ${ctx.input}: the file is empty (0 bytes); upload or download it again.`, { details });
    }
    if (!looksLikeIsoBmff(ctx.head)) {
      return new VidfleetError('NOT_A_VIDEO', `${ctx.tool} ${action} ${ctx.input}: it is not an MP4/MOV file despite its name (no MP4 box structure; ${ctx.tool}: "${hit.line}"). Check that this is the right file.`, { details });
    }
  }
  if (hit) {
    return new VidfleetError(hit.rule.code, `${ctx.tool} ${action} ${ctx.input}: ${hit.rule.explain} (${ctx.tool}: "${hit.line}").`, {
      details,
      ...(hit.rule.retryable === undefined ? {} : { retryable: hit.rule.retryable }),
    });
  }
  const last = lastFfmpegLine(ctx.stderr);
  const said = last ? `; it said: "${last}"` : ' without printing an error';
  return new VidfleetError('FFMPEG_FAILED', `${ctx.tool} ${action} ${ctx.input} (exit code ${ctx.exitCode ?? 'none'})${said}. See the task log.`, { details });
}

/** True when stderr shows the input itself is damaged (used when ffmpeg "succeeds" with no frame). */
export function stderrShowsCorruption(stderr: string, inputArg?: string): string | null {
  const hit = matchRule(stderr, inputArg);
  return hit && hit.rule.code === 'INPUT_CORRUPT' ? hit.line : null;
}
