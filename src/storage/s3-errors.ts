// Turning what the SDK throws into vidfleet's error codes.
import { VidfleetError } from '../protocol/index.js';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export function httpStatusOf(err: unknown): number | undefined {
  return (err as SdkError | null)?.$metadata?.httpStatusCode;
}

/** HeadObject answers a bare 404 (NotFound), GetObject a NoSuchKey error. */
export function isNotFound(err: unknown): boolean {
  const name = (err as SdkError | null)?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || httpStatusOf(err) === 404;
}

/** `what` names the operation and object, e.g. "UploadPart 3 of s3://b/jobs/…". */
export function storageError(what: string, err: unknown): VidfleetError {
  if (err instanceof VidfleetError) return err;
  const e = (err ?? {}) as SdkError;
  const status = httpStatusOf(err);
  const why = [e.name && e.name !== 'Error' ? e.name : e.code, e.message].filter(Boolean).join(': ');
  return new VidfleetError('STORAGE_FAILED', `${what} failed${status ? ` (HTTP ${status})` : ''}: ${why || String(err)}`, { cause: err });
}
