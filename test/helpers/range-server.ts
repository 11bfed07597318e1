// A loopback HTTP server for one local file, for the ranged readers' tests: honours
// `Range: bytes=a-b` (206), counts the bytes it sent and the requests it answered. Modes:
// 'ignore-range' answers 200 with the whole file (a server the HTTP reader must refuse), and
// `failFirst: n` drops the first n connections without an answer (a flaky network).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RangeServer {
  url: string;
  /** Body bytes sent (what a metered origin would bill). */
  bytesSent(): number;
  requests(): number;
  close(): Promise<void>;
}

export interface RangeServerOptions {
  mode?: 'ranges' | 'ignore-range';
  /** Destroy this many requests' sockets before answering. */
  failFirst?: number;
  /** Answer a range with at most this many bytes (a server that returns short ranges). */
  maxAnswer?: number;
}

export async function startRangeServer(path: string, options: RangeServerOptions = {}): Promise<RangeServer> {
  const { size } = await stat(path);
  let sent = 0;
  let requests = 0;
  let failures = options.failFirst ?? 0;
  const server = createServer((req, res) => {
    requests++;
    if (failures > 0) {
      failures--;
      return void req.socket.destroy();
    }
    if (new URL(req.url ?? '/', 'http://x').pathname === '/missing') return void res.writeHead(404).end();
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m || options.mode === 'ignore-range') {
      res.writeHead(200, { 'content-length': String(size), 'content-type': 'video/mp4' });
      if (req.method === 'HEAD') return void res.end();
      const s = createReadStream(path);
      s.on('data', (c) => (sent += c.length));
      return void s.pipe(res);
    }
    const first = Number(m[1]);
    if (first >= size) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    let last = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    if (options.maxAnswer) last = Math.min(last, first + options.maxAnswer - 1);
    res.writeHead(206, { 'content-length': String(last - first + 1), 'content-range': `bytes ${first}-${last}/${size}`, 'accept-ranges': 'bytes' });
    const s = createReadStream(path, { start: first, end: last });
    s.on('data', (c) => (sent += c.length));
    s.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/file`,
    bytesSent: () => sent,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
