// What a job kind implementation sees while it runs on a worker, and what it must provide.
// The worker builds a TaskContext per attempt; the kind never talks HTTP itself.
import type { KindName, TranscodeTaskKind } from '../../protocol/index.js';
import type { MountPoint } from '../logical-paths.js';

export interface ProgressUpdate {
  /** 0..1 */
  progress: number;
  fps?: number;
  speed?: number;
  /** Seconds left, when the kind knows better than the worker's estimate from elapsed time. */
  etaSeconds?: number;
  message?: string;
}

export interface ProducedArtifact {
  /** Name inside the job, e.g. "thumbnail.jpg" or "probe.json". */
  name: string;
  /** Local file holding the bytes (inside workDir). */
  path: string;
  contentType: string;
}

export interface TaskContext {
  /** What ffmpeg/ffprobe should open: an absolute local path or an http(s) URL. */
  input: string;
  /** Parameters already validated against the kind's schema by the coordinator. */
  params: Record<string, unknown>;
  /** Private scratch directory for this attempt; removed by the worker afterwards. */
  workDir: string;
  /** The checkpoint an earlier attempt of this task saved (null on a first attempt). */
  resumeData: unknown;
  /**
   * Saves this attempt's checkpoint (replacing the previous one). It reaches the coordinator
   * with the next progress report and with a failure report, so a later attempt gets it in
   * `resumeData` even when this worker dies. Call it after the work it describes is durable
   * (e.g. after `emitArtifact` resolved).
   */
  saveResumeData(data: unknown): void;
  /** Aborted when the task is canceled or its lease is lost: stop ffmpeg at once. */
  signal: AbortSignal;
  onProgress(update: ProgressUpdate): void;
  /** The job this task belongs to. */
  jobId: string;
  /**
   * Downloads an artifact of this job (another task's output, e.g. an encoded chunk) to a local
   * file, checking its SHA-256. Throws ARTIFACT_NOT_FOUND when the job has none of that name.
   */
  downloadArtifact(name: string, path: string): Promise<void>;
  /** Uploads a finished file right away (so partial work survives a later failure). */
  emitArtifact(artifact: ProducedArtifact): Promise<void>;
  /** A note about the task: in the worker's own log and in the task's log on the coordinator. */
  log(line: string): void;
  /**
   * A line of ffmpeg/ffprobe output (pass as runProcess's onStderrLine): shipped with the task's
   * log (GET /v1/jobs/{id}/logs), not echoed to the worker's own log.
   */
  toolLog(line: string): void;
  /** The worker's logical path variables for raw ffmpeg commands ($media → a directory); none when absent. */
  mounts?: ReadonlyMap<string, MountPoint>;
  /** Network protocols the worker allows in raw ffmpeg commands (--allow-protocol). */
  allowProtocols?: readonly string[];
  /** The job's input URI as submitted (before resolving): magnet:…, store://….torrent, … */
  inputUri?: string;
  /**
   * The worker's torrent cache (per info-hash metadata, piece store and bitfield), kept across
   * tasks; default `<worker workDir>/torrents`.
   */
  torrentDir?: string;
  /** Whether jobs may turn on the DHT (torrent kinds); default false. */
  torrentAllowDht?: boolean;
}

export interface KindRunner {
  /** A job kind, or a task kind of a graph job (transcode.video, …). */
  readonly name: KindName | TranscodeTaskKind;
  /**
   * False when an attempt with these parameters writes no files, so the worker skips creating
   * (and removing) its scratch directory — two to four filesystem calls per task, a measurable
   * share of a no-op task's cost. Default: it needs one.
   */
  needsWorkDir?(params: Record<string, unknown>): boolean;
  /** Runs the task; resolves with the job result (JSON), or throws a VidfleetError. */
  run(ctx: TaskContext): Promise<unknown>;
}
