// The fallback for containers the index parsers cannot read (MPEG-TS, AVI, MXF, WebM VP9 …):
// a loopback HTTP server that serves a RangeReader with Range support, so ffmpeg can open the
// file by URL and seek through it, reading only what its demuxer asks for. It pulls from the
// reader in bounded chunks as ffmpeg consumes the response, counts every byte it pulled, and
// refuses to go past a byte budget (a demuxer that scans the whole file would otherwise turn a
// screenshot of a torrent into a full download).
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VidfleetError } from '../../protocol/index.js';
import type { RangeReader } from './range-reader.js';

export interface RangeBridgeOptions {
  /** Bytes the bridge may pull from the reader in total. */
  maxBytes: number;
  /** Bytes per reader read while streaming a response. Default 64 KiB. */
  chunkSize?: number;
  /**
   * Most bytes one response carries (0: no limit). Default 128 KiB. ffmpeg asks for "bytes=N-"
   * (to the end) and drops the connection when it seeks; whatever the bridge pulled into socket
   * buffers by then was read for nothing. Measured on a 60 s 720p file, screenshot at 30 s
   * (ffmpeg itself consumed 13.4% of the TS, 7.2% of the AVI, 4.6% of a moov-at-end MP4):
   *   no limit: 64% / 31% / 45% of the file pulled;  1 MiB: 28 / 15 / 14%;
   *   256 KiB: 19 / 11 / 7.5%;  128 KiB: 14.7 / 8.7 / 6.1%;  64 KiB: 13.7 / 8.0 / 5.0% (44 requests).
   * ffmpeg continues a short answer only when opened with INPUT_ARGS (-reconnect 1).
   */
  windowBytes?: number;
}

/**
 * Input options ffmpeg needs in front of `-i <bridge url>`: with -reconnect it asks again
 * from where a windowed answer ended, instead of taking its end for the end of the file; the
 * delay cap keeps a refused read (budget spent) from being retried for minutes.
 */
export const BRIDGE_INPUT_ARGS: readonly string[] = ['-reconnect', '1', '-reconnect_delay_max', '2'];

export interface RangeBridge {
  /** Give this to ffmpeg (loopback only; a random path, so other local processes cannot guess it). */
  readonly url: string;
  /** Bytes pulled from the reader so far. */
  bytesServed(): number;
  /** Responses started (one per ffmpeg seek, roughly). */
  requests(): number;
  /** The budget error, once a read was refused. */
  readonly refused: VidfleetError | null;
  /** Throws the budget error if a read was refused (call after ffmpeg fails). */
  check(): void;
  close(): Promise<void>;
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` → [first, last], null for none, 'bad' for what we do not serve. */
export function parseRange(header: string | undefined, size: number): [number, number] | null | 'bad' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (!m[1] && !m[2])) return 'bad';
  if (!m[1]) {
    const n = Number(m[2]);
    return n === 0 ? 'bad' : [Math.max(0, size - n), size - 1];
  }
  const first = Number(m[1]);
  const last = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  return first > last || first >= size ? 'bad' : [first, last];
}

function extensionOf(label: string): string {
  const m = /\.([a-z0-9]{1,5})(?:$|[?#])/i.exec(label.split('/').pop() ?? '');
  return m ? `.${m[1]!.toLowerCase()}` : '';
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export async function startRangeBridge(reader: RangeReader, options: RangeBridgeOptions): Promise<RangeBridge> {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const windowBytes = options.windowBytes ?? 128 * 1024;
  // ffmpeg picks a demuxer partly by extension, so the path keeps the file's.
  const path = `/${randomBytes(12).toString('hex')}/input${extensionOf(reader.label)}`;
  let served = 0;
  let responses = 0;
  let refused: VidfleetError | null = null;

  const refuse = (res: ServerResponse, first: number): void => {
    refused ??= new VidfleetError(
      'READ_BUDGET_EXCEEDED',
      `ffmpeg needed more than the ${options.maxBytes}-byte budget to read ${reader.label} (it had read ${served} bytes and asked for more at byte ${first}); this container has no index that allows a cheap seek.`,
      { details: { maxBytes: options.maxBytes, served } },
    );
    if (!res.headersSent) res.writeHead(416, { 'content-type': 'text/plain' }).end(refused.message);
    else res.destroy();
  };

  const stream = async (res: ServerResponse, first: number, last: number): Promise<void> => {
    let gone = false;
    res.on('close', () => (gone = true));
    for (let pos = first; pos <= last && !gone; ) {
      const n = Math.min(chunkSize, last + 1 - pos);
      if (served + n > options.maxBytes) return refuse(res, pos);
      served += n;
      const buf = await reader.read(pos, n);
      if (gone) return;
      pos += buf.length;
      if (!res.write(buf)) await drained(res);
      if (buf.length < n) break;
    }
    if (!gone) res.end();
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== path) return void res.writeHead(404).end();
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
      const range = parseRange(req.headers.range, reader.size);
      if (range === 'bad') return void res.writeHead(416, { 'content-range': `bytes */${reader.size}` }).end();
      if (refused) return refuse(res, range?.[0] ?? 0);
      const [first, wanted] = range ?? [0, reader.size - 1];
      const last = range && windowBytes > 0 ? Math.min(wanted, first + windowBytes - 1) : wanted;
      const headers = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-length': String(Math.max(0, last - first + 1)) };
      if (range) res.writeHead(206, { ...headers, 'content-range': `bytes ${first}-${last}/${reader.size}` });
      else res.writeHead(200, headers);
      if (req.method === 'HEAD' || last < first) return void res.end();
      responses++;
      await stream(res, first, last);
    })().catch(() => res.destroy());
  });
  // ffmpeg keeps a connection per seek; idle ones must not hold close() up.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    bytesServed: () => served,
    requests: () => responses,
    get refused() {
      return refused;
    },
    check() {
      if (refused) throw refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
