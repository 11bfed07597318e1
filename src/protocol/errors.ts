// The error catalog: every error vidfleet reports, on the wire or in a failed task, has one of
// these codes. Codes are stable (scripts match on them); messages say what went wrong and how
// to fix it. `status` is the HTTP status a route answers with; `retryable` tells a worker (and
// the store's retry policy) whether another attempt can succeed.

export interface ErrorSpec {
  readonly status: number;
  readonly retryable: boolean;
  readonly hint: string;
}

export const ERROR_CATALOG = {
  // --- request validation (client's fault, fix the request) ---
  VALIDATION_FAILED: { status: 400, retryable: false, hint: 'Fix the request body or query as the message says.' },
  UNKNOWN_KIND: { status: 400, retryable: false, hint: 'Use one of the job kinds listed in the message.' },
  INVALID_PARAMS: { status: 400, retryable: false, hint: 'Fix the named parameter; see docs/jobs.md for each kind.' },
  INVALID_INPUT: { status: 400, retryable: false, hint: 'Give an input as store://key, file:///absolute/path or http(s)://url.' },
  INPUT_NOT_FOUND: { status: 400, retryable: false, hint: 'Check that the input exists and is readable where the job runs.' },
  UPLOAD_TOO_LARGE: { status: 413, retryable: false, hint: 'Upload a smaller file or raise the coordinator limit (--max-upload).' },
  UPLOAD_INCOMPLETE: { status: 400, retryable: true, hint: 'The upload ended before all bytes arrived; send it again.' },
  // --- lookups ---
  JOB_NOT_FOUND: { status: 404, retryable: false, hint: 'Check the job id (vidfleet jobs lists them).' },
  TASK_NOT_FOUND: { status: 404, retryable: false, hint: 'Check the task id.' },
  ARTIFACT_NOT_FOUND: { status: 404, retryable: false, hint: 'List the job artifacts to see their names.' },
  BLOB_NOT_FOUND: { status: 404, retryable: false, hint: 'Upload the file first (vidfleet submit uploads local paths).' },
  WORKER_NOT_FOUND: { status: 404, retryable: false, hint: 'Register the worker again (POST /v1/workers).' },
  ROUTE_NOT_FOUND: { status: 404, retryable: false, hint: 'See /v1 routes in docs/api.md.' },
  // --- fencing: a worker write for an attempt that is no longer current ---
  STALE_ATTEMPT: { status: 409, retryable: false, hint: 'This worker no longer holds the task; drop it and claim new work.' },
  TASK_NOT_RUNNABLE: { status: 409, retryable: false, hint: 'The task is already finished or canceled.' },
  IDEMPOTENCY_CONFLICT: { status: 409, retryable: false, hint: 'This Idempotency-Key was used for a different request; use a new key for a new job.' },
  JOB_FINISHED: { status: 409, retryable: false, hint: 'The job already ended; there is nothing to cancel.' },
  CANCELED: { status: 409, retryable: false, hint: 'The job was canceled by a user.' },
  // --- task failures reported by workers ---
  NOT_A_VIDEO: { status: 422, retryable: false, hint: 'The input has no decodable video stream; check the file.' },
  INPUT_CORRUPT: { status: 422, retryable: false, hint: 'The input is damaged or truncated; re-export or re-download it.' },
  INPUT_UNREADABLE: { status: 422, retryable: true, hint: 'The input could not be read (network or permissions); check access.' },
  PATH_NOT_ALLOWED: { status: 400, retryable: false, hint: 'Name files with logical paths ($input, $out/…, $<mount>/…); see docs/jobs.md "ffmpeg" for what is refused.' },
  PATH_ESCAPE: { status: 400, retryable: false, hint: 'The path leads outside its mount (a ".." or a symbolic link); use a path inside the mount.' },
  MOUNT_MISSING: { status: 422, retryable: true, hint: 'Run the job on a worker started with --mount for that variable (or VIDFLEET_MOUNTS).' },
  TIME_OUT_OF_RANGE: { status: 422, retryable: false, hint: 'Pick a time inside the video duration, or a fraction like 0.5.' },
  PACKAGE_CHECK_FAILED: { status: 500, retryable: true, hint: 'The HLS/DASH package does not match its renditions (the message names the rendition and file); it is packaged again, and a repeat failure points at the merged rendition files.' },
  CHUNK_CHECK_FAILED: { status: 500, retryable: true, hint: 'An encoded chunk did not match its plan (frame count, first keyframe or timestamps); the chunk is encoded again.' },
  MERGE_CHECK_FAILED: { status: 500, retryable: false, hint: 'The merged rendition did not match the source (frames, seams or A/V sync); re-encode the chunk the message names, then merge again.' },
  // --- ranged sources and container indexes (screenshots that read only the index and keyframes) ---
  INDEX_UNSUPPORTED: { status: 422, retryable: false, hint: 'The container or codec cannot be indexed for keyframe-only reads (the message says which); the caller falls back to ffmpeg over a byte-budgeted range bridge.' },
  RANGE_NOT_SUPPORTED: { status: 422, retryable: false, hint: 'The server ignores HTTP Range requests (answers 200 with the whole file); serve the file from a server that supports ranges, or upload it.' },
  READ_BUDGET_EXCEEDED: { status: 422, retryable: false, hint: 'Reading this input needed more bytes than the job allows; raise the byte budget or use a file with an index (faststart MP4, MKV with Cues).' },
  FFMPEG_MISSING: { status: 500, retryable: true, hint: 'Install ffmpeg on the worker: apt-get install -y ffmpeg.' },
  FFMPEG_FAILED: { status: 500, retryable: true, hint: 'See the task log for the ffmpeg error.' },
  WORKER_LOST: { status: 500, retryable: true, hint: 'The worker stopped heartbeating; the task is retried elsewhere.' },
  WORKER_SHUTDOWN: { status: 503, retryable: true, hint: 'The worker shut down and handed the task back; another worker takes it at once.' },
  TASK_TIMEOUT: { status: 500, retryable: true, hint: 'The attempt ran past the kind\'s maximum run time; it is retried, or raise the limit.' },
  // One code per reason a signed request is refused (all 401): a client can tell a clock problem
  // from a wrong secret. A wrong secret and a request changed on the way (method, path, query)
  // look the same to the coordinator: both are AUTH_SIGNATURE_MISMATCH.
  AUTH_REQUIRED: { status: 401, retryable: false, hint: 'Sign the request: set VIDFLEET_KEY="<id>:<secret>" (from `vidfleet keys create`) for the CLI and workers; see docs/security.md.' },
  AUTH_MALFORMED: { status: 401, retryable: false, hint: 'The authorization header or body digest is not in the signed-request format; see docs/security.md.' },
  AUTH_KEY_INVALID: { status: 401, retryable: false, hint: 'The key is unknown or revoked; ask an admin for a key (`vidfleet keys create`).' },
  AUTH_SIGNATURE_MISMATCH: { status: 401, retryable: false, hint: 'Check the secret, and that nothing between you and the coordinator rewrites the method, path or query.' },
  AUTH_EXPIRED: { status: 401, retryable: false, hint: 'Signatures are good for 30 s either side of the coordinator\'s clock; fix this machine\'s clock (NTP).' },
  AUTH_REPLAYED: { status: 401, retryable: false, hint: 'Every request needs a fresh nonce and signature; do not resend a signed request as is.' },
  AUTH_BODY_MISMATCH: { status: 401, retryable: false, hint: 'The body differs from the digest the request was signed with: it was changed on the way, or the client hashed something else.' },
  FORBIDDEN: { status: 403, retryable: false, hint: 'Use a key whose role allows this (admin, client or worker; see docs/security.md).' },
  // --- torrent inputs (the torrent source on a worker) ---
  TORRENT_NO_VIDEO: { status: 422, retryable: false, hint: 'The torrent holds no video file (by extension); the message lists its files. Name one with the job\'s file parameter if it is a video.' },
  TORRENT_FILE_NOT_FOUND: { status: 422, retryable: false, hint: 'No file of the torrent has the path the job names; the message lists its files.' },
  TORRENT_METADATA_TIMEOUT: { status: 504, retryable: true, hint: 'No peer sent the torrent\'s metadata in time: check the peers/trackers given, or upload the .torrent file so no metadata exchange is needed.' },
  TORRENT_PEERS_UNAVAILABLE: { status: 503, retryable: true, hint: 'No peer delivered a needed piece in time (the seeders left or stalled); the task is retried and keeps the pieces it already has.' },
  TORRENT_BUDGET_EXCEEDED: { status: 422, retryable: false, hint: 'The pieces holding the index and the keyframes are more than the job\'s maxBytes (the message gives both); raise maxBytes or ask for fewer screenshots.' },
  RATE_LIMITED: { status: 429, retryable: true, hint: 'Too many requests; wait for Retry-After seconds.' },
  // --- server side ---
  STORAGE_FAILED: { status: 500, retryable: true, hint: 'The coordinator could not write to its store; check disk space and permissions.' },
  INTERNAL: { status: 500, retryable: true, hint: 'An unexpected error; the coordinator log has details.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOG, value);
}

/** The JSON body of every error response, and the shape of a failed task's `error`. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  hint: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export class VidfleetError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly hint: string;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: Record<string, unknown>; retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const spec: ErrorSpec = ERROR_CATALOG[code];
    this.name = 'VidfleetError';
    this.code = code;
    this.status = spec.status;
    this.retryable = options.retryable ?? spec.retryable;
    this.hint = spec.hint;
    this.details = options.details;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message, hint: this.hint, retryable: this.retryable };
    if (this.details) body.details = this.details;
    return body;
  }

  static fromBody(body: ErrorBody): VidfleetError {
    const code = isErrorCode(body.code) ? body.code : 'INTERNAL';
    return new VidfleetError(code, body.message, { details: body.details, retryable: body.retryable });
  }
}

/** Turns anything thrown into a VidfleetError without losing the original message. */
export function toVidfleetError(err: unknown, fallback: ErrorCode = 'INTERNAL'): VidfleetError {
  if (err instanceof VidfleetError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new VidfleetError(fallback, message, { cause: err });
}
