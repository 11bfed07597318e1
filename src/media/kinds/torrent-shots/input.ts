// Which torrent a torrent-screenshots task names: a magnet URI or an info-hash (in the input
// itself), or a .torrent file uploaded to the store (read from the URL the worker resolved it
// to) or on the worker's disk (file://…/x.torrent).
import { readFile, stat } from 'node:fs/promises';
import { MAX_TORRENT_FILE_BYTES, VidfleetError, parseInput, parseTorrentInput, type TorrentRef } from '../../../protocol/index.js';
import type { TaskContext } from '../kind.js';

export async function torrentRefOf(ctx: TaskContext): Promise<TorrentRef> {
  const uri = ctx.inputUri ?? ctx.input;
  const ref = parseInput(uri);
  if (ref.scheme === 'torrent') return ref.ref;
  return parseTorrentInput(await torrentFileBytes(ctx.input, ctx.signal));
}

async function torrentFileBytes(resolved: string, signal: AbortSignal): Promise<Uint8Array> {
  if (!/^https?:\/\//i.test(resolved)) {
    const s = await stat(resolved);
    if (s.size > MAX_TORRENT_FILE_BYTES) throw new VidfleetError('INVALID_INPUT', `${resolved} is ${s.size} bytes: too large for a .torrent file.`);
    return readFile(resolved);
  }
  const res = await fetch(resolved, { signal });
  if (!res.ok) throw new VidfleetError(res.status === 404 ? 'INPUT_NOT_FOUND' : 'INPUT_UNREADABLE', `The .torrent file could not be fetched (HTTP ${res.status}).`);
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > MAX_TORRENT_FILE_BYTES) throw new VidfleetError('INVALID_INPUT', `The .torrent file is ${len} bytes; the limit is ${MAX_TORRENT_FILE_BYTES}.`);
  return new Uint8Array(await res.arrayBuffer());
}
