// Input URIs a job may name, parsed once so every side agrees on what they mean.
//   store://uploads/ab12/clip.mp4   a file held by the coordinator's store
//   file:///srv/media/clip.mp4      a path on the worker's machine
//   http(s)://host/clip.mp4         fetched by the worker (ffmpeg reads it with ranges)
//   magnet:?xt=urn:btih:<hash>…     a torrent (torrent-screenshots), metadata from peers
//   <40 hex> or <32 base32>         a bare torrent info-hash (peers come from the job's params)
// An uploaded .torrent is a store:// (or file://) input whose name ends in ".torrent": it parses
// as that scheme, and isTorrentFileInput() tells a torrent kind to read it as metadata.
import { VidfleetError } from './errors.js';
import { isTorrentInputString, parseTorrentInput, type TorrentRef } from './torrent-input.js';

export type InputRef =
  | { scheme: 'store'; key: string }
  | { scheme: 'file'; path: string }
  | { scheme: 'http'; url: string }
  | { scheme: 'torrent'; ref: TorrentRef };

/** A store:// or file:// input naming a .torrent file (by extension): torrent metadata, not a video. */
export function isTorrentFileInput(ref: InputRef): boolean {
  return (ref.scheme === 'store' && /\.torrent$/i.test(ref.key)) || (ref.scheme === 'file' && /\.torrent$/i.test(ref.path));
}

/** Whether an input names a torrent: magnet, info-hash, or an uploaded .torrent. */
export function isTorrentInput(ref: InputRef): boolean {
  return ref.scheme === 'torrent' || isTorrentFileInput(ref);
}

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
  if (/^magnet:/i.test(uri) || isTorrentInputString(uri)) {
    // parseTorrentInput answers INVALID_INPUT with a message naming what is wrong with the hash.
    return { scheme: 'torrent', ref: parseTorrentInput(uri) };
  }
  if (uri.startsWith('/')) {
    throw new VidfleetError('INVALID_INPUT', `"${uri}" is a bare path; write file://${uri} for a path on the worker, or upload it (vidfleet submit uploads local files).`);
  }
  throw new VidfleetError('INVALID_INPUT', `Unsupported input "${uri}". Use store://key, file:///absolute/path or http(s)://url.`);
}

export function fileUri(path: string): string {
  return 'file://' + path.split('/').map(encodeURIComponent).join('/');
}
