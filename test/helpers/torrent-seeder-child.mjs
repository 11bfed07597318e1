// A BitTorrent seeder for tests, run as its own process by torrent-seeder.ts so that killing it
// (SIGKILL) is a real peer vanishing. Plain JavaScript: it runs under bare `node`, no TS loader.
//
//   node torrent-seeder-child.mjs '{"path":"/abs/file-or-dir","pieceLength":262144,"port":0,"uploadLimit":-1}'
//
// Seeds `path` (a file: single-file torrent; a directory: multi-file torrent named after it) in
// place (no copy), with no trackers (create-torrent adds public ones unless announceList is []),
// no DHT/LSD/PEX/uTP/UPnP, listening on 127.0.0.1 only. Prints one JSON line when seeding:
//   {"infoHash","port","torrent" (base64 .torrent),"pieceLength","pieces","files":[{path,length,offset}]}
// and on stdin "stats\n" answers {"uploaded": bytes sent to peers}.
import net from 'node:net';
import WebTorrent from 'webtorrent';

const opts = JSON.parse(process.argv[2] ?? '{}');
if (typeof opts.path !== 'string') {
  process.stderr.write('usage: torrent-seeder-child.mjs \'{"path":"/abs/path","pieceLength":262144,"port":0}\'\n');
  process.exit(2);
}

// webtorrent's listening socket takes no host: it calls server.listen(port, cb) inside the client
// constructor. Bind that one call to loopback (tests never open a port on other interfaces).
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, ...rest) {
  if (typeof port !== 'number') return listen.call(this, port, ...rest);
  return listen.call(this, port, '127.0.0.1', ...rest.filter((a) => typeof a === 'function'));
};
let client;
try {
  client = new WebTorrent({
    dht: false, lsd: false, tracker: false, utPex: false, natUpnp: false, natPmp: false, webSeeds: false, utp: false,
    torrentPort: opts.port ?? 0,
    // Bytes per second sent to peers (-1: unlimited); lets a test kill the seeder mid-read.
    uploadLimit: opts.uploadLimit ?? -1,
  });
} finally {
  net.Server.prototype.listen = listen;
}

const fail = (err) => {
  process.stderr.write(`seeder error: ${err?.stack ?? err}\n`);
  process.exit(1);
};
client.on('error', fail);

client.seed(
  opts.path,
  // A fixed creation date keeps the .torrent bytes identical across restarts (the info-hash only
  // depends on the info dict, but tests also compare the file).
  { pieceLength: opts.pieceLength, announceList: [], announce: [], urlList: [], createdBy: 'vidfleet-test', creationDate: new Date('2020-01-01T00:00:00Z') },
  (torrent) => {
    torrent.on('error', fail);
    const line = {
      infoHash: torrent.infoHash,
      port: client.torrentPort,
      torrent: Buffer.from(torrent.torrentFile).toString('base64'),
      pieceLength: torrent.pieceLength,
      pieces: torrent.pieces.length,
      files: torrent.files.map((f) => ({ path: f.path, length: f.length, offset: f.offset })),
    };
    process.stdout.write(JSON.stringify(line) + '\n');
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => {
      if (chunk.includes('stats')) process.stdout.write(JSON.stringify({ uploaded: torrent.uploaded }) + '\n');
    });
  },
);
