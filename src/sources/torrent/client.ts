// The BitTorrent client under the torrent source: webtorrent 2.8.5, set up for bounded reads.
//
// Why webtorrent rather than its parts (bittorrent-protocol, ut_metadata, parse-torrent,
// bittorrent-tracker) assembled here: webtorrent already does everything around a piece that a
// range reader needs and that is easy to get subtly wrong — peer connections and reconnects,
// choke/interest, block pipelining over several peers, SHA-1 verification, the fs piece store,
// metadata exchange, re-hashing a store at start against a saved bitfield — and it is the
// implementation other clients interoperate with. What the reader needs beyond it is small and
// lives in piece-fetcher.ts: select single pieces, await their verification with a stall timer,
// read them from the store. Its HTTP server and file streams are not used: the server fetched
// 100% of a file on this machine; only `deselect: true` at add() keeps it from downloading the
// whole torrent. (2.8.5 is the newest that runs on Node 20; 3.x needs Node 22.)
//
// Network defaults are for loopback and jobs that name their peers: no DHT, no trackers, no
// local discovery, no PEX, no UPnP/NAT-PMP, no web seeds, no uTP, and the listening socket on
// 127.0.0.1. A production worker can turn DHT and trackers on and listen on all interfaces.
import net from 'node:net';
import WebTorrent from 'webtorrent';

export interface ClientNetworkOptions {
  /** Join the mainline DHT to find peers (default false; it contacts public bootstrap nodes). */
  dht?: boolean;
  /** Announce to trackers: set when any tracker is to be used (default false). */
  trackers?: boolean;
  /** Host of the listening socket for incoming peers (default 127.0.0.1; '0.0.0.0' for all). */
  listenHost?: string;
  /** Port of the listening socket (default 0: any free port). */
  listenPort?: number;
}

export function createClient(opts: ClientNetworkOptions = {}): WebTorrent {
  const host = opts.listenHost ?? '127.0.0.1';
  // webtorrent takes no listen host: its constructor calls tcpServer.listen(port, cb)
  // synchronously. Bind that one call (nothing else runs during the constructor) to `host`.
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    const [port, ...rest] = args;
    if (typeof port !== 'number') return (listen as (...a: unknown[]) => net.Server).apply(this, args);
    return (listen as (...a: unknown[]) => net.Server).call(this, port, host, ...rest.filter((a) => typeof a === 'function'));
  } as typeof listen;
  try {
    return new WebTorrent({
      dht: opts.dht ? {} : false,
      tracker: opts.trackers ? {} : false,
      lsd: false,
      utPex: false,
      natUpnp: false,
      natPmp: false,
      webSeeds: false,
      utp: false,
      torrentPort: opts.listenPort ?? 0,
    });
  } finally {
    net.Server.prototype.listen = listen;
  }
}
