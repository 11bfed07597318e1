// Sends a stored blob with HTTP Range support (ffmpeg seeks inside inputs with ranges).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BlobStore } from '../storage/blob-store.js';
import { VidfleetError } from '../protocol/index.js';

export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // multi-range or malformed: send it all
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export async function sendBlob(
  request: FastifyRequest,
  reply: FastifyReply,
  blobs: BlobStore,
  key: string,
  meta: { contentType: string; filename?: string; sha256?: string },
): Promise<FastifyReply> {
  const stat = await blobs.stat(key);
  if (!stat) throw new VidfleetError('BLOB_NOT_FOUND', `Nothing stored at ${key}.`);
  void reply.header('accept-ranges', 'bytes').header('content-type', meta.contentType);
  if (meta.sha256) void reply.header('etag', `"${meta.sha256}"`);
  if (meta.filename) void reply.header('content-disposition', `attachment; filename="${meta.filename.replace(/["\\\r\n]/g, '_')}"`);
  const range = parseRange(request.headers.range, stat.size);
  if (range === 'unsatisfiable') {
    return reply.status(416).header('content-range', `bytes */${stat.size}`).send();
  }
  if (range) {
    void reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${stat.size}`).header('content-length', range.end - range.start + 1);
    return reply.send(blobs.read(key, range));
  }
  void reply.header('content-length', stat.size);
  return reply.send(stat.size === 0 ? '' : blobs.read(key));
}
