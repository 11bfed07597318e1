// Input URIs a job may name, parsed once so every side agrees on what they mean.
//   store://uploads/ab12/clip.mp4   a file held by the coordinator's store
//   file:///srv/media/clip.mp4      a path on the worker's machine
//   http(s)://host/clip.mp4         fetched by the worker (ffmpeg reads it with ranges)
import { VidfleetError } from './errors.js';

export type InputRef =
  | { scheme: 'store'; key: string }
  | { scheme: 'file'; path: string }
  | { scheme: 'http'; url: string };

/** A store key is a relative path of safe segments: no "..", no empty segments, no backslashes. */
export function isSafeStoreKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024 || key.startsWith('/') || key.includes('\\') || key.includes('\0')) return false;
  return key.split('/').every((seg) => seg.length > 0 && seg !== '.' && seg !== '..');
}

export function parseInput(uri: string): InputRef {
  if (typeof uri !== 'string' || uri.length === 0) {
    throw new VidfleetError('INVALID_INPUT', 'The job has no input; give a URI such as store://uploads/…, file:///path or https://…');
  }
  if (uri.startsWith('store://')) {
    const key = decodeURIComponent(uri.slice('store://'.length));
    if (!isSafeStoreKey(key)) throw new VidfleetError('INVALID_INPUT', `"${uri}" is not a valid store key (relative path, no "..").`);
    return { scheme: 'store', key };
  }
  if (uri.startsWith('file://')) {
    let path: string;
    try {
      const url = new URL(uri);
      if (url.host !== '' && url.host !== 'localhost') throw new Error('host');
      path = decodeURIComponent(url.pathname);
    } catch {
      throw new VidfleetError('INVALID_INPUT', `"${uri}" is not a valid file URI; write file:///absolute/path/to/video.mp4`);
    }
    if (!path.startsWith('/') || path.includes('\0')) throw new VidfleetError('INVALID_INPUT', `"${uri}" must name an absolute path.`);
    return { scheme: 'file', path };
  }
  if (/^https?:\/\//i.test(uri)) {
    try {
      const url = new URL(uri);
      return { scheme: 'http', url: url.href };
    } catch {
      throw new VidfleetError('INVALID_INPUT', `"${uri}" is not a valid URL.`);
    }
  }
  if (uri.startsWith('/')) {
    throw new VidfleetError('INVALID_INPUT', `"${uri}" is a bare path; write file://${uri} for a path on the worker, or upload it (vidfleet submit uploads local files).`);
  }
  throw new VidfleetError('INVALID_INPUT', `Unsupported input "${uri}". Use store://key, file:///absolute/path or http(s)://url.`);
}

export function fileUri(path: string): string {
  return 'file://' + path.split('/').map(encodeURIComponent).join('/');
}
