// `ffmpeg`: a raw ffmpeg or ffprobe command whose file names are logical paths ($media/in.mkv,
// $out/out.mp4, $input). Each worker maps the variables to its own directories; the argument
// rules live in ../ffmpeg-args.ts and are checked here at submission, again on the worker.
import { Type, type Static } from '@sinclair/typebox';
import { analyseFfmpegArgs, ffmpegArgsProblem, INPUT_VARIABLE, logicalPathProblem, OUT_VARIABLE, splitLogicalPath, VARIABLE_NAME, type FfmpegTool } from '../ffmpeg-args.js';

export const FfmpegParamsSchema = Type.Object(
  {
    tool: Type.Optional(Type.Union([Type.Literal('ffmpeg'), Type.Literal('ffprobe')], { description: 'ffmpeg (default) or ffprobe; nothing else is ever run.' })),
    args: Type.Array(Type.String({ maxLength: 8192 }), {
      minItems: 1,
      maxItems: 1000,
      description: 'Arguments after the program name, one per item (no shell). Files are logical paths: $input, $out/…, $<mount>/….',
    }),
    outputs: Type.Optional(
      Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 1000, description: 'Files under $out the command must produce; the task fails if one is missing.' }),
    ),
    duration: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Seconds of output expected, for progress, when neither -t nor the first input tells.' })),
  },
  { additionalProperties: false },
);
export type FfmpegParams = Static<typeof FfmpegParamsSchema>;

export interface FfmpegArtifactInfo {
  /** Path relative to $out, e.g. "hls/seg_001.ts". */
  name: string;
  size: number;
  contentType: string;
}

export interface FfmpegResult {
  tool: FfmpegTool;
  /** Every file written under $out, uploaded as an artifact of the same name. */
  artifacts: FfmpegArtifactInfo[];
  /** ffprobe only: its output, parsed when it is JSON (-of json), else the text; null when too large (see the artifact). */
  output?: unknown;
  /** The end of what the program wrote to stderr (analysis filters such as loudnorm report there). */
  log: string;
}

/** Whether a task reads the job's input: only when an argument is $input. */
export function ffmpegReadsInput(params: Record<string, unknown>): boolean {
  return Array.isArray(params.args) && params.args.some((a) => a === `$${INPUT_VARIABLE}`);
}

/**
 * The mounts a command's logical paths name ($media/… → mount:media): only a worker that maps
 * each of them can run it, so the claim hands it to no other (MOUNT_MISSING becomes rare: a
 * worker whose mount vanished after it registered).
 */
export function ffmpegRequirements(params: Record<string, unknown>): string[] {
  const p = params as FfmpegParams;
  if (!Array.isArray(p.args)) return [];
  const variables = analyseFfmpegArgs(p.tool ?? 'ffmpeg', p.args, { allowProtocols: 'any-allowable' })
    .args.map((a) => a.path?.variable)
    .filter((v): v is string => v !== undefined && v !== OUT_VARIABLE && v !== INPUT_VARIABLE && VARIABLE_NAME.test(v));
  return [...new Set(variables)].map((v) => `mount:${v}`);
}

export function ffmpegParamsProblem(params: Record<string, unknown>): string | null {
  const p = params as FfmpegParams;
  const problem = ffmpegArgsProblem(p.tool ?? 'ffmpeg', p.args);
  if (problem) return problem;
  for (const [i, output] of (p.outputs ?? []).entries()) {
    const path = splitLogicalPath(output);
    const why = !path || path.variable !== OUT_VARIABLE || !path.rest ? 'must be a file under $out, e.g. $out/result.mp4' : logicalPathProblem(path, output);
    if (why) return `outputs[${i}] ${JSON.stringify(output)}: ${why}`;
  }
  if (p.tool === 'ffprobe' && p.outputs?.length) return 'outputs: ffprobe writes no files; its output is the job result';
  return null;
}
