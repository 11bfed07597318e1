// Turns a job's input URI into what ffmpeg opens on this worker: a local path or a URL.
// store:// inputs are read from the coordinator over HTTP with ranges, so a thumbnail of a
// large upload reads only the bytes ffmpeg seeks to, never the whole file.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { VidfleetError, parseInput } from '../protocol/index.js';

/** `blobUrl` answers the URL a store key is read from (the coordinator's, with a read token when it has keys). */
export async function resolveInput(uri: string, blobUrl: (key: string) => Promise<string>): Promise<string> {
  const ref = parseInput(uri);
  switch (ref.scheme) {
    case 'store':
      return blobUrl(ref.key);
    case 'http':
      return ref.url;
    case 'torrent':
      // Opened by the torrent kind itself (src/sources/torrent): nothing to resolve here.
      return uri;
    case 'file': {
      try {
        const s = await stat(ref.path);
        if (!s.isFile()) throw new VidfleetError('INPUT_NOT_FOUND', `${ref.path} on worker host ${hostname()} is not a regular file.`);
        await access(ref.path, constants.R_OK);
      } catch (err) {
        if (err instanceof VidfleetError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EACCES') throw new VidfleetError('INPUT_UNREADABLE', `${ref.path} exists on worker host ${hostname()} but is not readable (permission denied).`, { retryable: false });
        throw new VidfleetError('INPUT_NOT_FOUND', `${ref.path} does not exist on worker host ${hostname()}. file:// inputs are read on the worker; upload the file instead if it lives elsewhere.`);
      }
      return ref.path;
    }
  }
}
