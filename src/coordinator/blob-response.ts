// Sends a stored blob with HTTP Range support (ffmpeg seeks inside inputs with ranges), or, with
// direct downloads on S3, a 302 to a presigned URL so the bytes skip the coordinator.
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
  /** Redirect to a presigned URL valid this long, when the store can make one. */
  direct?: { ttlSeconds: number },
): Promise<FastifyReply> {
  const stat = await blobs.stat(key);
  if (!stat) throw new VidfleetError('BLOB_NOT_FOUND', `Nothing stored at ${key}.`);
  const disposition = meta.filename ? `attachment; filename="${meta.filename.replace(/["\\\r\n]/g, '_')}"` : undefined;
  if (direct && blobs.presign) {
    // The client repeats its Range header at the new location; S3 answers 206 itself. The URL
    // expires, so nothing may cache the redirect.
    const url = await blobs.presign(key, 'get', direct.ttlSeconds, { contentType: meta.contentType, contentDisposition: disposition });
    return reply.header('cache-control', 'no-store').redirect(url, 302);
  }
  void reply.header('accept-ranges', 'bytes').header('content-type', meta.contentType);
  if (meta.sha256) void reply.header('etag', `"${meta.sha256}"`);
  if (disposition) void reply.header('content-disposition', disposition);
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
